/**
 * `docker-balancer routes`: the routes the engine builds from the
 * containers as they are now, the state HAProxy reports for each server,
 * and every container that is not routed, with the reason. The same route
 * builder, damping and rejections as the daemon (routing/routed.ts); HAProxy
 * is asked over its admin socket.
 *
 * @module
 */

import type { DockerClient } from "../docker/client.ts";
import { Inventory } from "../docker/inventory.ts";
import {
  formatReport,
  type RouteReport,
  routeReport,
} from "../report/report.ts";
import { unroutedOf } from "../routing/unrouted.ts";
import { RoutedState } from "../routing/routed.ts";
import { askHAProxy } from "../report/haproxy_view.ts";
import { readOrNull } from "../util/files.ts";
import {
  parseRejections,
  Rejections,
  rejectionsFile,
} from "../routing/rejections.ts";
import { readSourceOnce } from "../sources/wiring.ts";
import type { ServiceSettings } from "./service.ts";

/** How long `routes` waits for the source's first read. */
const SOURCE_READ_MS = 10_000;

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
  // The listeners and routes the daemon's HAProxy would not take (rejections.ts).
  const rejected = parseRejections(
    await readOrNull(rejectionsFile(settings.haproxy.given.configFile)) ??
      "[]",
  );
  // Built as the daemon builds it, from every container.
  const { built: table, damped } = await new RoutedState(
    options,
    new Rejections(null, rejected),
    null,
  ).build(() => all, Date.now());
  const unrouted = unroutedOf(
    all,
    table.findings,
    damped,
    options.includeEnv === true,
    unreadable,
  );
  return routeReport(
    table,
    unrouted,
    await askHAProxy(settings.haproxy.statsSocket, settings.haproxy.maps),
  );
}

/** The report as the command prints it: aligned text, or JSON with `json`. */
export function printable(report: RouteReport, json: boolean): string {
  return json ? JSON.stringify(report, null, 2) : formatReport(report);
}
