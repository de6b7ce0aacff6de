/**
 * `docker-balancer routes`: the routes the engine builds from the
 * containers as they are now, the state HAProxy reports for each server,
 * and every container that is not routed, with the reason. The same route
 * model and damping as the engine; HAProxy is asked over its admin socket.
 *
 * @module
 */

import type { DockerClient } from "../docker/client.ts";
import { Inventory } from "../docker/inventory.ts";
import { damping } from "../haproxy/damping.ts";
import {
  formatReport,
  type HAProxyView,
  type RouteReport,
  routeReport,
  unroutedOf,
} from "../haproxy/report.ts";
import { buildRoutes } from "../haproxy/routes.ts";
import { AdminSocket } from "../haproxy/runtime.ts";
import { readOrNull } from "../util/files.ts";
import {
  parseRejections,
  rejectionsFile,
  withoutRejected,
} from "../haproxy/rejections.ts";
import type { CheckedSettings } from "../haproxy/settings.ts";
import { readSourceOnce } from "../haproxy/sources.ts";
import type { ServiceSettings } from "../haproxy/service.ts";

/** How long `routes` waits for the source's first read. */
const SOURCE_READ_MS = 10_000;

/** Server states and host maps from HAProxy's admin socket. */
async function askHAProxy(settings: CheckedSettings): Promise<HAProxyView> {
  const { statsSocket, maps } = settings;
  if (statsSocket === "") {
    return {
      states: null,
      hostBackends: new Map(),
      error: "no admin socket (--stats-socket '')",
    };
  }
  const admin = new AdminSocket(statsSocket);
  try {
    const states = await admin.servers();
    const hostBackends = new Map<string, string>();
    for (const file of [maps.http, maps.https, maps.redirect]) {
      if (file === undefined) continue;
      for (const [host, backend] of await admin.mapEntries(file)) {
        hostBackends.set(host, backend);
      }
    }
    return { states, hostBackends };
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) throw error;
    return {
      states: null,
      hostBackends: new Map(),
      error: (error as Error).message,
    };
  }
}

/**
 * Builds the report from the source's containers and HAProxy's states.
 *
 * @throws when the source cannot be read.
 */
export async function collectRoutes(
  settings: ServiceSettings,
  docker: DockerClient,
): Promise<RouteReport> {
  const options = settings.haproxy.routes;
  const { containers: all, unreadable } = await readSourceOnce(
    settings.source,
    { docker, inventory: new Inventory(docker) },
    SOURCE_READ_MS,
  );
  const { damped } = damping(all, Date.now());
  // The listeners the daemon's HAProxy would not open (rejections.ts).
  const rejected = parseRejections(
    await readOrNull(rejectionsFile(settings.haproxy.given.configFile)) ??
      "[]",
  );
  const { table } = withoutRejected(
    buildRoutes(all.filter((container) => !damped.has(container.id)), options),
    rejected,
    all,
    Date.now(),
  );
  const unrouted = unroutedOf(
    all,
    table.findings,
    damped,
    options.includeEnv === true,
    unreadable,
  );
  return routeReport(table, unrouted, await askHAProxy(settings.haproxy));
}

/** The report as the command prints it: aligned text, or JSON with `json`. */
export function printable(report: RouteReport, json: boolean): string {
  return json ? JSON.stringify(report, null, 2) : formatReport(report);
}
