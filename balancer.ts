/**
 * docker-balancer: keeps HAProxy's configuration in step with the labels of
 * running containers. Wires its sources to the loop (lib/cli/service.ts)
 * built from its flags: this host's engine through a follower, which tells
 * the loop what changed, and the other sources the flags name.
 *
 * Permissions: see lib/permissions.ts (BALANCER_PERMISSIONS).
 *
 * @module
 */

import { errorMessage } from "./lib/util/error_message.ts";
import { getLogger } from "@logtape/logtape";
import {
  type EventSelector,
  parseEvents,
  selects,
} from "./lib/docker/event_selector.ts";
import {
  aborted,
  type Daemon,
  EXIT_FAILURE,
  EXIT_USAGE,
  fail,
  fatalMessage,
  listenForMetrics,
  metricsAddress,
  reachDocker,
  runDaemon,
  warnCleartext,
} from "./lib/cli/daemon.ts";
import type { ListenAddress } from "./lib/metrics/server.ts";
import type { Telemetry } from "./lib/metrics/telemetry.ts";
import { connectDocker } from "./lib/docker/client.ts";
import { type EngineAddress, thisEngine } from "./lib/docker/engine_url.ts";
import { Inventory } from "./lib/docker/inventory.ts";
import { DockerFollower } from "./lib/docker/follower.ts";
import { permissionHint } from "./lib/permissions.ts";
import { ReportedError } from "./lib/util/reported_error.ts";
import { collectRoutes, printable } from "./lib/cli/routes.ts";
import { parseLogLevel, setupLogging } from "./lib/log.ts";
import { VERSION } from "./lib/version.ts";

const log = getLogger(["docker-glue", "balancer"]);
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
} from "./lib/cli/service.ts";

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

/**
 * Whether an update asked for on a resync succeeded; a failure the loop
 * has not logged yet is logged here.
 */
async function settled(update: Promise<void>): Promise<boolean> {
  try {
    await update;
    return true;
  } catch (error) {
    if (!(error instanceof ReportedError)) {
      log.error("Update failed: {error}", {
        error: error instanceof Deno.errors.NotCapable
          ? permissionHint(error)
          : errorMessage(error),
      });
    }
    return false;
  }
}

/**
 * The service with this host's engine followed for it (none when the
 * containers come from etcd): `events` (`--watch-set`) are the Docker
 * actions that ask for an update.
 */
function balancerDaemon(
  service: BalancerService,
  engine: EngineAddress,
  inventory: Inventory | null,
  events: EventSelector,
  telemetry: Telemetry | undefined,
): Daemon {
  const follower = inventory === null ? null : new DockerFollower(inventory, {
    dockerUrl: engine.url,
    ...(telemetry === undefined ? {} : { telemetry }),
  }, {
    wants: (action, phase) => phase === "late" && selects(events, action),
    early: () => {},
    changed: (action) => service.changed(action),
    resynced: () => void settled(service.resynced()),
  });
  return {
    once: async () => {
      if (inventory !== null) {
        await reachDocker(inventory.docker, engine.url);
        await inventory.resync();
      }
      return await settled(service.resynced());
    },
    watch: async (signal) => {
      if (follower !== null) return await follower.watch(signal);
      void settled(service.resynced());
      await aborted(signal);
    },
    close: () => service.close(),
  };
}

/** Runs the balancer with checked settings. */
async function serve(
  flags: Flags,
  settings: ServiceSettings,
  events: EventSelector,
  telemetry: Telemetry | undefined,
): Promise<number> {
  let engine: EngineAddress;
  try {
    engine = thisEngine(flags.dockerUrl);
    warnCleartext(engine);
  } catch (error) {
    return fail(PROGRAM, errorMessage(error), EXIT_USAGE);
  }
  const fromEtcd = settings.source.kind === "etcd";
  const docker = connectDocker(engine);
  const inventory = new Inventory(docker);
  const service = await BalancerService.create(settings, {
    docker,
    inventory,
    ...(telemetry === undefined ? {} : { telemetry }),
  });
  const daemon = balancerDaemon(
    service,
    engine,
    fromEtcd ? null : inventory,
    events,
    telemetry,
  );
  if (flags.diff) {
    const status = await runDaemon(daemon, {
      once: true,
      program: PROGRAM,
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
  return await runDaemon(daemon, {
    once: flags.once === true,
    program: PROGRAM,
    onRotate: () => service.engine.reopenAccessLog(),
    banner: `${PROGRAM} ${VERSION} watching ${
      fromEtcd
        ? `etcd at ${flags.etcdEndpoints} (${flags.etcdPrefix})`
        : [engine.url, ...others(settings)].join(" and ")
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
