/**
 * docker-balancer: keeps HAProxy's configuration in step with the labels of
 * running containers. It is the docker-glue agent running the HAProxy
 * service (lib/haproxy/service.ts) built from its flags.
 *
 * Permissions: see lib/permissions.ts (BALANCER_PERMISSIONS).
 *
 * @module
 */

import { errorMessage } from "./lib/util/error_message.ts";
import { Agent } from "./lib/agent/agent.ts";
import {
  DEFAULT_HANDLER_TIMEOUT_MS,
  type EventSelector,
  parseEvents,
} from "./lib/agent/handler_ini.ts";
import {
  EXIT_FAILURE,
  EXIT_USAGE,
  fail,
  fatalMessage,
  listenForMetrics,
  metricsAddress,
  runAgent,
  warnCleartext,
} from "./lib/cli/daemon.ts";
import type { ListenAddress } from "./lib/metrics/server.ts";
import type { Telemetry } from "./lib/metrics/telemetry.ts";
import { connectDocker } from "./lib/docker/client.ts";
import { thisEngine } from "./lib/docker/engine_url.ts";
import { collectRoutes, printable } from "./lib/cli/routes.ts";
import { parseLogLevel, setupLogging } from "./lib/log.ts";
import { VERSION } from "./lib/version.ts";
import { parseFlags } from "./lib/cli/program.ts";
import {
  type Flags,
  PROGRAM,
  program,
  settingsFromFlags,
} from "./lib/cli/balancer_flags.ts";
import {
  BalancerService,
  checkBalancerSettings,
  type ServiceSettings,
} from "./lib/haproxy/service.ts";

/**
 * `docker-balancer routes [flags]`: takes the daemon's flags, so an
 * operator prepends `routes` to the command line the service runs.
 */
async function routes(args: string[]): Promise<number> {
  const flags = parseFlags<Flags & { json?: boolean }>(
    program()
      .name(`${PROGRAM} routes`)
      .description(
        "Show the routes, the state HAProxy reports for each server, and every container that is not routed, with the reason.",
      )
      .option("--json", "print JSON, for scripts"),
    args,
  );
  if (typeof flags === "number") return flags;
  let settings: ServiceSettings;
  try {
    await setupLogging(parseLogLevel(flags.logLevel));
    settings = checkBalancerSettings(settingsFromFlags(flags));
  } catch (error) {
    return fail(PROGRAM, errorMessage(error), EXIT_USAGE);
  }
  const engine = thisEngine(flags.dockerUrl);
  const url = engine.url;
  let report;
  try {
    report = await collectRoutes(settings, connectDocker(engine));
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) throw error;
    const from = settings.source.kind === "etcd" ? "etcd" : `Docker at ${url}`;
    return fail(PROGRAM, `Cannot read ${from}: ${errorMessage(error)}`);
  }
  console.log(printable(report, flags.json === true));
  return 0;
}

async function main(args: string[]): Promise<number> {
  if (args[0] === "routes") return await routes(args.slice(1));
  const flags = parseFlags<Flags>(program(), args);
  if (typeof flags === "number") return flags;
  if (flags.once === flags.watch) {
    return fail(
      PROGRAM,
      flags.once
        ? "-1 and -w exclude each other"
        : "nothing to do: pass -1 to apply once or -w to follow events (see -h)",
      EXIT_USAGE,
    );
  }
  let settings: ServiceSettings;
  let events: EventSelector;
  let listen: ListenAddress | undefined;
  try {
    await setupLogging(parseLogLevel(flags.logLevel));
    // A bad flag value is a usage error, found before anything runs.
    settings = checkBalancerSettings(settingsFromFlags(flags));
    events = { ...parseEvents(flags.watchSet), none: true };
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
    return await serve(flags, settings, events, metrics?.telemetry);
  } finally {
    await metrics?.close();
  }
}

/** The other hosts' engines, for the banner. */
function others(settings: ServiceSettings): string[] {
  const source = settings.source;
  return source.kind === "docker"
    ? (source.remotes ?? []).map((e) => `${e.name} at ${e.url}`)
    : [];
}

/** Runs the balancer with checked settings. */
async function serve(
  flags: Flags,
  settings: ServiceSettings,
  events: EventSelector,
  telemetry: Telemetry | undefined,
): Promise<number> {
  let url: string;
  let agent: Agent;
  try {
    const engine = thisEngine(flags.dockerUrl);
    url = engine.url;
    warnCleartext(engine);
    agent = new Agent(connectDocker(engine), {
      dockerUrl: url,
      ...(telemetry === undefined ? {} : { telemetry }),
    });
  } catch (error) {
    return fail(PROGRAM, errorMessage(error), EXIT_USAGE);
  }
  const service = await BalancerService.create(settings, agent);
  agent.add({
    name: "haproxy",
    events,
    triggersNone: false,
    timeoutMs: DEFAULT_HANDLER_TIMEOUT_MS,
    handler: service,
  });
  const fromEtcd = flags.source === "etcd";
  if (flags.diff) {
    const status = await runAgent(agent, {
      once: true,
      program: PROGRAM,
      docker: !fromEtcd,
      banner: "",
    });
    const preview = service.engine.preview;
    // Loaded only for --diff: the diff library is no daemon's business.
    const { diffExitCode, formatPreview } = await import(
      "./lib/report/preview.ts"
    );
    if (status !== 0 || preview === null) return status || EXIT_FAILURE;
    console.log(formatPreview(preview));
    return diffExitCode(preview);
  }
  return await runAgent(agent, {
    once: flags.once === true,
    program: PROGRAM,
    docker: !fromEtcd,
    banner: `${PROGRAM} ${VERSION} watching ${
      fromEtcd
        ? `etcd at ${flags.etcdEndpoints} (${flags.etcdPrefix})`
        : [url, ...others(settings)].join(" and ")
    }, writing ${flags.dryRun ? "standard output" : flags.configFile}`,
  });
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (error) {
    Deno.exit(fail(PROGRAM, fatalMessage(error)));
  }
}
