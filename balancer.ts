/**
 * docker-balancer: keeps HAProxy's configuration in step with the labels of
 * running containers. It is the docker-glue agent with only the HAProxy
 * handler, configured from flags instead of INI files.
 *
 * Permissions: see lib/permissions.ts (BALANCER_PERMISSIONS).
 *
 * @module
 */

import { Command, CommanderError, Option } from "commander";
import { getLogger } from "@logtape/logtape";
import { Agent } from "./lib/agent/agent.ts";
import { connectDocker, dockerUrl } from "./lib/docker/client.ts";
import { ConfigRejectedError, ReloadError } from "./lib/haproxy/apply.ts";
import {
  createBalancer,
  HAPROXY_DEFAULTS,
  SettingsError,
} from "./lib/haproxy/setup.ts";
import { TemplateError } from "./lib/haproxy/render.ts";
import { parseLogLevel, setupLogging } from "./lib/log.ts";
import { permissionHint } from "./lib/permissions.ts";
import { parseDebounce } from "./lib/util/debounce.ts";
import { VERSION } from "./lib/version.ts";
import {
  DEFAULT_WATCH_SET,
  HAProxyHandler,
  parseEventList,
} from "./handlers/haproxy.ts";

const log = getLogger(["docker-glue", "balancer"]);

/** Exit statuses. */
const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

interface Flags {
  once?: boolean;
  watch?: boolean;
  watchSet: string;
  templateDir?: string;
  templateFile?: string;
  configFile: string;
  rc?: string;
  includeEnv?: boolean;
  dockerUrl?: string;
  reloadCmd: string;
  haproxyBin: string;
  network?: string;
  debounce: string;
  dryRun?: boolean;
  httpBind: string;
  statsBind: string;
  logLevel: string;
}

function program(): Command {
  return new Command("docker-balancer")
    .description(
      "Route HTTP traffic to containers by their glue_http_* labels through HAProxy.",
    )
    .version(VERSION, "--version", "print the version and exit")
    .helpOption("-h, --help", "show this help and exit")
    .option("-1, --once", "render and apply once, then exit")
    .option("-w, --watch", "render, then follow Docker events")
    .option(
      "--watch-set <events>",
      "container events that trigger a re-render",
      DEFAULT_WATCH_SET,
    )
    .option(
      "--template-dir <dirs>",
      "template search path, ':'-separated (leading ':' appends to the default path, trailing ':' prepends)",
    )
    .option("--template-file <name>", "template to render", "haproxy.cfg.njk")
    .option(
      "--config-file <path>",
      "HAProxy configuration to write",
      HAPROXY_DEFAULTS.configFile,
    )
    .option(
      "--rc <file>",
      "rc file whose EXTRAOPTS/OPTIONS are passed to haproxy -c (default: /etc/default/haproxy or /etc/sysconfig/haproxy if present)",
    )
    .option(
      "--include-env",
      "treat container environment variables as labels too (labels win)",
    )
    .option(
      "--docker-url <url>",
      "Docker engine (default: DOCKER_HOST, else unix:///var/run/docker.sock)",
    )
    .option(
      "--reload-cmd <cmd>",
      "command that reloads HAProxy, run without a shell; '' to skip",
      HAPROXY_DEFAULTS.reloadCmd,
    )
    .option(
      "--haproxy-bin <path>",
      "haproxy executable used to validate",
      HAPROXY_DEFAULTS.haproxyBin,
    )
    .option(
      "--network <name>",
      "preferred Docker network for container addresses",
    )
    .option(
      "--debounce <quiet[:max]>",
      "wait for this quiet time (at most max) before re-rendering; 0 to render on every event",
      HAPROXY_DEFAULTS.debounce,
    )
    .option(
      "--dry-run",
      "print the configuration to standard output; write and reload nothing",
    )
    .option(
      "--http-bind <addrs>",
      "bind address(es) of the HTTP frontend, comma-separated",
      HAPROXY_DEFAULTS.httpBind,
    )
    .option(
      "--stats-bind <addr>",
      "bind address of the stats page; '' for none",
      HAPROXY_DEFAULTS.statsBind,
    )
    .addOption(
      new Option("--log-level <level>", "debug, info, warning or error")
        .default("info"),
    )
    .exitOverride()
    .configureOutput({
      writeErr: (text) => Deno.stderr.writeSync(new TextEncoder().encode(text)),
    });
}

function fail(message: string, status = EXIT_FAILURE): never {
  console.error(`docker-balancer: ${message}`);
  Deno.exit(status);
}

async function main(args: string[]): Promise<number> {
  const cli = program();
  try {
    cli.parse(args, { from: "user" });
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and --version exit 0; commander has already printed the error.
      return error.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    throw error;
  }
  const flags = cli.opts<Flags>();
  if (flags.once === flags.watch) {
    fail(
      flags.once
        ? "-1 and -w exclude each other"
        : "nothing to do: pass -1 to apply once or -w to follow events (see -h)",
      EXIT_USAGE,
    );
  }
  let debounce, level;
  try {
    debounce = parseDebounce(flags.debounce);
    level = parseLogLevel(flags.logLevel);
  } catch (error) {
    fail((error as Error).message, EXIT_USAGE);
  }
  await setupLogging(level);

  const url = dockerUrl(flags.dockerUrl);
  const docker = (() => {
    try {
      return connectDocker(url);
    } catch (error) {
      return fail((error as Error).message, EXIT_USAGE);
    }
  })();
  const balancer = await createBalancer({
    templateDir: flags.templateDir,
    templateFile: flags.templateFile,
    configFile: flags.configFile,
    rc: flags.rc,
    reloadCmd: flags.reloadCmd,
    haproxyBin: flags.haproxyBin,
    network: flags.network,
    includeEnv: flags.includeEnv ?? false,
    httpBind: flags.httpBind,
    statsBind: flags.statsBind,
    dryRun: flags.dryRun ?? false,
    debounce,
  }, () => agent.inventory.list());
  const handler = new HAProxyHandler(
    "haproxy",
    balancer,
    parseEventList(flags.watchSet),
  );
  const agent = new Agent(docker, url, [handler]);

  if (flags.once) {
    try {
      await docker.ping();
    } catch (error) {
      if (error instanceof Deno.errors.NotCapable) throw error;
      fail(`Cannot reach Docker at ${url}: ${(error as Error).message}`);
    }
    const ok = await agent.once();
    return ok ? 0 : EXIT_FAILURE;
  }

  const stop = new AbortController();
  const onSignal = () => {
    log.info("Stopping on signal");
    stop.abort();
  };
  Deno.addSignalListener("SIGTERM", onSignal);
  Deno.addSignalListener("SIGINT", onSignal);
  log.info("docker-balancer {version} watching {url}, writing {file}", {
    version: VERSION,
    url,
    file: flags.dryRun ? "standard output" : flags.configFile,
  });
  try {
    await agent.watch(stop.signal);
  } finally {
    // Let an install in progress finish, so the config is never half written.
    await agent.close();
  }
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) fail(permissionHint(error));
    if (
      error instanceof SettingsError || error instanceof TemplateError ||
      error instanceof ConfigRejectedError || error instanceof ReloadError
    ) {
      fail(error.message);
    }
    fail(`Unexpected error: ${error instanceof Error ? error.stack : error}`);
  }
}
