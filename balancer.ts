/**
 * docker-balancer: keeps HAProxy's configuration in step with the labels of
 * running containers. It is the docker-glue agent with only the HAProxy
 * handler, whose params come from flags instead of an INI file.
 *
 * Permissions: see lib/permissions.ts (BALANCER_PERMISSIONS).
 *
 * @module
 */

import type { Command } from "commander";
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
} from "./lib/cli/daemon.ts";
import type { ListenAddress } from "./lib/metrics/server.ts";
import type { Telemetry } from "./lib/metrics/telemetry.ts";
import { diffExitCode, formatPreview } from "./lib/haproxy/preview.ts";
import { connectDocker, dockerUrl } from "./lib/docker/client.ts";
import { collectRoutes, printable } from "./lib/cli/routes.ts";
import {
  acmeSettings,
  checkSettings,
  HAPROXY_DEFAULTS,
  parseMode,
} from "./lib/haproxy/setup.ts";
import {
  DEFAULT_ETCD_ENDPOINTS,
  DEFAULT_ETCD_PREFIX,
  parseEndpoints,
} from "./lib/discovery/endpoints.ts";
import { parseLogLevel, setupLogging } from "./lib/log.ts";
import { parseDebounce } from "./lib/util/debounce.ts";
import { VERSION } from "./lib/version.ts";
import { baseProgram, commonOptions, parseFlags } from "./lib/cli/program.ts";
import {
  DEFAULT_WATCH_SET,
  HAProxyHandler,
  type HAProxyHandlerSettings,
} from "./handlers/haproxy.ts";

const PROGRAM = "docker-balancer";

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
  haproxy?: string;
  reloadCmd?: string;
  haproxyBin: string;
  network?: string;
  perPortFrontends?: boolean;
  debounce: string;
  dryRun?: boolean;
  diff?: boolean;
  httpBind: string;
  statsBind: string;
  tcpBindAddress: string;
  statsSocket: string;
  httpsBind?: string;
  tlsCertDir: string;
  acmeDirectory?: string;
  acmeEmail?: string;
  acmeCaFile?: string;
  acmeBackoff: string;
  source: string;
  etcdEndpoints: string;
  etcdPrefix: string;
  logLevel: string;
  metricsListen?: string;
}

function program(): Command {
  return commonOptions(
    baseProgram(
      PROGRAM,
      "Route HTTP traffic to containers by their glue_http_* labels through HAProxy. `docker-balancer routes [flags]` shows what is routed, and why a container is not.",
    )
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
        "--haproxy <mode>",
        "managed: start, supervise and reload HAProxy ourselves (the default with -w); external: HAProxy runs elsewhere and --reload-cmd reloads it (the default with -1 or --reload-cmd)",
      )
      .option(
        "--reload-cmd <cmd>",
        `command that reloads an external HAProxy, run without a shell; '' to skip (default: "${HAPROXY_DEFAULTS.reloadCmd}")`,
      )
      .option(
        "--haproxy-bin <path>",
        "haproxy executable used to validate",
        HAPROXY_DEFAULTS.haproxyBin,
      )
      .option(
        "--per-port-frontends",
        "as the original did: an HTTP frontend on each port the glue_http_<port>_* labels name, at the --http-bind addresses",
      )
      .option(
        "--network <name>",
        "preferred Docker network for container addresses",
      )
      .option(
        "--debounce <quiet[:max]>",
        "a change that needs a reload waits for this quiet time (at most max after the burst began); other changes apply at once; 0 to never wait",
        HAPROXY_DEFAULTS.debounce,
      )
      .option(
        "--dry-run",
        "print the configuration to standard output; write and reload nothing",
      )
      .option(
        "--diff",
        "with -1 --dry-run: validate with haproxy -c and print a unified diff against the installed files, and the runtime commands that would replace a reload; exit 0 no change, 3 change without reload, 4 change with reload, 1 error",
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
      .option(
        "--tcp-bind-address <addr>",
        "address the TCP frontends (glue_tcp_ports) listen on; * for all",
        HAPROXY_DEFAULTS.tcpBindAddress,
      )
      .option(
        "--stats-socket <path>",
        "HAProxy admin socket, with expose-fd listeners for seamless reloads; '' for none",
        HAPROXY_DEFAULTS.statsSocket,
      )
      .option(
        "--https-bind <addrs>",
        "bind address(es) of the HTTPS frontend, comma-separated, such as *:443; off unless given",
      )
      .option(
        "--tls-cert-dir <dir>",
        "PEM files (certificate chain and key in one file) the HTTPS frontend serves by SNI; default.pem is served when no name matches",
        HAPROXY_DEFAULTS.tlsCertDir,
      )
      .option(
        "--acme-directory <url>",
        "ACME directory URL: get certificates for the hosts of routes labelled tls, by HTTP-01",
      )
      .option("--acme-email <address>", "contact address of the ACME account")
      .option(
        "--acme-ca-file <file>",
        "PEM CA certificates to trust for the ACME server's own TLS (a private CA)",
      )
      .option(
        "--acme-backoff <base[:max]>",
        "wait after a failed ACME request, doubling up to max",
        HAPROXY_DEFAULTS.acmeBackoff,
      )
      .option(
        "--source <source>",
        "where containers come from: docker (this host's engine), swarm (this node's tasks of Swarm services labelled glue_*; a manager node) or etcd (published by docker-glue agents)",
        "docker",
      )
      .option(
        "--etcd-endpoints <urls>",
        "etcd endpoints for --source etcd, comma-separated",
        DEFAULT_ETCD_ENDPOINTS,
      )
      .option(
        "--etcd-prefix <prefix>",
        "key prefix the agents publish under",
        DEFAULT_ETCD_PREFIX,
      ),
  );
}

/** The HAProxy handler's settings, as the flags give them. */
function settingsFromFlags(flags: Flags): HAProxyHandlerSettings {
  if (
    flags.source !== "docker" && flags.source !== "etcd" &&
    flags.source !== "swarm"
  ) {
    throw new TypeError(
      `Invalid source "${flags.source}": expected docker, swarm or etcd`,
    );
  }
  return {
    haproxy: {
      templateDir: flags.templateDir,
      templateFile: flags.templateFile,
      configFile: flags.configFile,
      rc: flags.rc,
      // -1 writes the file for whoever runs HAProxy; only -w can run it.
      // --diff compares with what a -w daemon wrote, so it takes -w's default.
      mode: flags.once && flags.haproxy === undefined && !flags.diff
        ? "external"
        : parseMode(flags.haproxy, flags.reloadCmd !== undefined),
      reloadCmd: flags.reloadCmd ?? HAPROXY_DEFAULTS.reloadCmd,
      haproxyBin: flags.haproxyBin,
      network: flags.network,
      perPortFrontends: flags.perPortFrontends === true,
      includeEnv: flags.includeEnv === true,
      httpBind: flags.httpBind,
      statsBind: flags.statsBind,
      tcpBindAddress: flags.tcpBindAddress,
      statsSocket: flags.statsSocket,
      httpsBind: flags.httpsBind,
      tlsCertDir: flags.tlsCertDir,
      acme: acmeSettings({
        directory: flags.acmeDirectory,
        email: flags.acmeEmail,
        caFile: flags.acmeCaFile,
        backoff: flags.acmeBackoff,
      }),
      dryRun: flags.dryRun === true,
      diff: flags.diff === true,
      once: flags.once === true,
      debounce: parseDebounce(flags.debounce),
    },
    source: flags.source === "docker" || flags.source === "swarm"
      ? { kind: flags.source }
      : {
        kind: "etcd",
        endpoints: parseEndpoints(flags.etcdEndpoints),
        prefix: flags.etcdPrefix,
      },
  };
}

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
  let settings: HAProxyHandlerSettings;
  try {
    await setupLogging(parseLogLevel(flags.logLevel));
    settings = settingsFromFlags(flags);
    checkSettings(settings.haproxy);
  } catch (error) {
    return fail(PROGRAM, (error as Error).message, EXIT_USAGE);
  }
  const url = dockerUrl(flags.dockerUrl);
  let report;
  try {
    report = await collectRoutes(
      settings.haproxy,
      settings.source,
      connectDocker(url),
    );
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) throw error;
    const from = settings.source.kind === "etcd" ? "etcd" : `Docker at ${url}`;
    return fail(PROGRAM, `Cannot read ${from}: ${(error as Error).message}`);
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
  let settings: HAProxyHandlerSettings;
  let events: EventSelector;
  let listen: ListenAddress | undefined;
  try {
    await setupLogging(parseLogLevel(flags.logLevel));
    settings = settingsFromFlags(flags);
    // A bad flag value is a usage error, found before anything runs.
    checkSettings(settings.haproxy);
    events = { ...parseEvents(flags.watchSet), none: true };
    listen = metricsAddress(flags.metricsListen, flags.once === true);
  } catch (error) {
    return fail(PROGRAM, (error as Error).message, EXIT_USAGE);
  }
  const metrics = await listenForMetrics(PROGRAM, listen);
  if (typeof metrics === "number") return metrics;
  try {
    return await serve(flags, settings, events, metrics?.telemetry);
  } finally {
    await metrics?.close();
  }
}

/** Runs the balancer with checked settings. */
async function serve(
  flags: Flags,
  settings: HAProxyHandlerSettings,
  events: EventSelector,
  telemetry: Telemetry | undefined,
): Promise<number> {
  const url = dockerUrl(flags.dockerUrl);
  let agent: Agent;
  try {
    agent = new Agent(connectDocker(url), {
      dockerUrl: url,
      ...(telemetry === undefined ? {} : { telemetry }),
    });
  } catch (error) {
    return fail(PROGRAM, (error as Error).message, EXIT_USAGE);
  }
  const handler = new HAProxyHandler(agent, PROGRAM, {
    file: PROGRAM,
    className: "haproxy",
    events,
    enabled: true,
    triggersNone: false,
    timeoutMs: DEFAULT_HANDLER_TIMEOUT_MS,
    params: {},
    sections: {},
    warnings: [],
  }, settings);
  await handler.init();
  agent.add({
    name: "haproxy",
    events,
    triggersNone: false,
    timeoutMs: DEFAULT_HANDLER_TIMEOUT_MS,
    handler,
  });
  const fromEtcd = flags.source === "etcd";
  if (flags.diff) {
    const status = await runAgent(agent, {
      once: true,
      program: PROGRAM,
      docker: !fromEtcd,
      banner: "",
    });
    const preview = handler.balancer.preview;
    if (status !== 0 || preview === null) return status || EXIT_FAILURE;
    console.log(formatPreview(preview));
    return diffExitCode(preview);
  }
  return await runAgent(agent, {
    once: flags.once === true,
    program: PROGRAM,
    docker: !fromEtcd,
    banner: `${PROGRAM} ${VERSION} watching ${
      fromEtcd ? `etcd at ${flags.etcdEndpoints} (${flags.etcdPrefix})` : url
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
