/**
 * docker-glue: the pluggable agent. It loads the handler INI files from the
 * handler paths and, on each Docker event, runs the handlers that asked for
 * it.
 *
 * Permissions: see lib/permissions.ts (GLUE_PERMISSIONS).
 *
 * @module
 */

import { errorMessage } from "./lib/util/error_message.ts";
import { processUid } from "./lib/agent/file_trust.ts";
import type { Command } from "commander";
import { getLogger } from "@logtape/logtape";
import { Agent } from "./lib/agent/agent.ts";
import type { HandlerSlot } from "./lib/agent/dispatcher.ts";
import { NONE } from "./lib/docker/event_selector.ts";
import { loadHandlers, type LoadResult } from "./lib/agent/loader.ts";
import {
  defaultHandlerDirs,
  defaultScriptDirs,
  findHandlerFiles,
  parsePathList,
} from "./lib/agent/paths.ts";
import {
  agentDaemon,
  EXIT_FAILURE,
  EXIT_USAGE,
  fail,
  fatalMessage,
  listenForMetrics,
  metricsAddress,
  runDaemon,
  warnCleartext,
} from "./lib/cli/daemon.ts";
import type { ListenAddress } from "./lib/metrics/server.ts";
import type { Telemetry } from "./lib/metrics/telemetry.ts";
import { connectDocker } from "./lib/docker/client.ts";
import { thisEngine } from "./lib/docker/engine_url.ts";
import { parseLogLevel, setupLogging } from "./lib/log.ts";
import { VERSION } from "./lib/version.ts";
import { baseProgram, commonOptions, parseFlags } from "./lib/cli/program.ts";
import { BUILTIN_REGISTRY } from "./handlers/registry.ts";

const PROGRAM = "docker-glue";
const log = getLogger(["docker-glue", "main"]);

interface Flags {
  once?: boolean;
  watch?: boolean;
  check?: boolean;
  handlerPaths?: string;
  scriptPaths?: string;
  dockerUrl?: string[];
  logLevel: string;
  metricsListen?: string;
  metricsAuth?: string;
}

function program(): Command {
  return commonOptions(
    baseProgram(
      PROGRAM,
      "Run handler plugins and scripts on Docker events, as configured by docker-glue.d/*.ini files.",
    )
      .option("-1, --once", "fire the none event once, then exit")
      .option("-w, --watch", "fire the none event, then follow Docker events")
      .option(
        "--check",
        "load and validate every handler file, print each problem, exit 1 if any",
      )
      .option(
        "--handler-paths <dirs>",
        "':'-separated directories with *.ini handler files (default: docker-glue.d under ../etc and ../../etc next to the program, /etc and the working directory)",
      )
      .option(
        "--script-paths <dirs>",
        "':'-separated directories with handler scripts (default: libexec/docker-glue under .. and ../.. next to the program, /usr/libexec/docker-glue, ./handler-scripts)",
      ),
  );
}

/** The directory "relative to the executable" means: the binary's, or main.ts's from source. */
function programDir(): string {
  if (Deno.build.standalone) {
    const exe = Deno.execPath();
    return exe.slice(0, exe.lastIndexOf("/")) || "/";
  }
  return import.meta.dirname ?? Deno.cwd();
}

function report(result: LoadResult): void {
  for (const problem of result.problems) {
    if (problem.severity === "error") {
      log.error("{message}", { message: problem.message });
    } else log.warn("{message}", { message: problem.message });
  }
  for (const file of result.disabled) {
    log.info("Handler {file} is disabled (enabled=0)", { file });
  }
  for (const { ini } of result.loaded) {
    log.info("Loaded handler {file}: {className} on {events}", {
      file: ini.file,
      className: ini.className,
      events: [
        ...(ini.events.all ? ["all"] : []),
        ...(ini.events.none ? ["none"] : []),
        ...ini.events.names,
      ].join(","),
    });
  }
}

function slotsOf(result: LoadResult): HandlerSlot[] {
  return result.loaded.map(({ ini, handler }) => ({
    name: ini.file,
    events: ini.events,
    triggersNone: ini.triggersNone,
    timeoutMs: ini.timeoutMs,
    handler,
  }));
}

async function main(args: string[]): Promise<number> {
  const flags = parseFlags<Flags>(program(), args);
  if (typeof flags === "number") return flags;
  const modes = [flags.once, flags.watch, flags.check].filter(Boolean).length;
  if (modes !== 1) {
    return fail(
      PROGRAM,
      modes === 0
        ? "nothing to do: pass -1 (once), -w (watch) or --check (see -h)"
        : "-1, -w and --check exclude each other",
      EXIT_USAGE,
    );
  }
  let listen: ListenAddress | undefined;
  try {
    await setupLogging(parseLogLevel(flags.logLevel));
    listen = metricsAddress(flags.metricsListen, flags.once === true);
  } catch (error) {
    return fail(PROGRAM, errorMessage(error), EXIT_USAGE);
  }
  const metrics = await listenForMetrics(
    PROGRAM,
    listen,
    flags.metricsAuth,
  );
  if (typeof metrics === "number") return metrics;
  try {
    return await serve(flags, metrics?.telemetry);
  } finally {
    await metrics?.close();
  }
}

/** Loads the handlers and runs the agent. */
async function serve(
  flags: Flags,
  telemetry: Telemetry | undefined,
): Promise<number> {
  const cwd = Deno.cwd();
  const handlerDirs = flags.handlerPaths === undefined
    ? defaultHandlerDirs(programDir(), cwd)
    : parsePathList(flags.handlerPaths, cwd);
  const scriptDirs = flags.scriptPaths === undefined
    ? defaultScriptDirs(programDir(), cwd)
    : parsePathList(flags.scriptPaths, cwd);
  let url: string;
  let agent: Agent;
  try {
    if ((flags.dockerUrl?.length ?? 0) > 1) {
      throw new Error(
        "docker-glue follows one Docker engine; route other hosts' engines with the HAProxy handler's docker_urls",
      );
    }
    const engine = thisEngine(flags.dockerUrl);
    url = engine.url;
    warnCleartext(engine);
    agent = new Agent(connectDocker(engine), {
      dockerUrl: url,
      scriptPaths: scriptDirs,
      uid: processUid(),
      ...(telemetry === undefined ? {} : { telemetry }),
    });
  } catch (error) {
    return fail(PROGRAM, errorMessage(error), EXIT_USAGE);
  }

  const { files, shadowed } = await findHandlerFiles(handlerDirs);
  for (const file of shadowed) {
    log.info(
      "Skipped {file}: a file of the same name in an earlier handler path wins",
      { file },
    );
  }
  const result = await loadHandlers(files, agent, BUILTIN_REGISTRY);

  if (flags.check) {
    for (const problem of result.problems) {
      console.log(`${problem.severity}: ${problem.message}`);
    }
    console.log(
      `${files.length} handler files in ${
        handlerDirs.join(":")
      }: ${result.loaded.length} loaded, ${result.disabled.length} disabled, ${result.problems.length} problems`,
    );
    await Promise.all(result.loaded.map(({ handler }) => handler.close()));
    return result.problems.length === 0 ? 0 : EXIT_FAILURE;
  }

  report(result);
  if (result.loaded.length === 0) {
    return fail(
      PROGRAM,
      `no handler loaded from ${
        handlerDirs.join(":")
      } (copy an *.ini.example to *.ini)`,
    );
  }
  for (const slot of slotsOf(result)) agent.add(slot);
  return await runDaemon(agentDaemon(agent), {
    once: flags.once === true,
    program: PROGRAM,
    banner:
      `${PROGRAM} ${VERSION} watching ${url} with ${result.loaded.length} handlers`,
    onRotate: () => agent.reopenLogs(),
    // SIGHUP reloads the handler files without a restart.
    onHangup: async () => {
      log.info("SIGHUP: reloading handler files from {dirs}", {
        dirs: handlerDirs.join(":"),
      });
      const fresh = await loadHandlers(
        (await findHandlerFiles(handlerDirs)).files,
        agent,
        BUILTIN_REGISTRY,
      );
      report(fresh);
      await agent.replace(slotsOf(fresh));
      log.info("Running {count} handlers", { count: fresh.loaded.length });
      await agent.dispatch(NONE, "");
    },
  });
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (error) {
    Deno.exit(fail(PROGRAM, fatalMessage(error)));
  }
}
