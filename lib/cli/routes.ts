/**
 * `docker-balancer routes`: the routes the engine builds from the
 * containers as they are now, the state HAProxy reports for each server,
 * and every container that is not routed, with the reason. The same route
 * model and damping as the engine; HAProxy is asked over its admin socket.
 *
 * @module
 */

import type { ContainerRecord } from "../docker/container.ts";
import type { DockerClient } from "../docker/client.ts";
import { Inventory } from "../docker/inventory.ts";
import { SwarmSource } from "../docker/swarm.ts";
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
import { readOrNull } from "../haproxy/apply.ts";
import {
  parseRejections,
  rejectionsFile,
  withoutRejected,
} from "../haproxy/rejections.ts";
import {
  checkSettings,
  type HAProxySettings,
  mapFilesFor,
  routeOptions,
} from "../haproxy/setup.ts";
import type { SourceSettings } from "../../handlers/haproxy.ts";

/** How long `routes --source etcd` waits for the first read. */
const ETCD_READ_MS = 10_000;

/** Reads the containers from the source, once. */
async function containersOf(
  source: SourceSettings,
  docker: DockerClient,
): Promise<ContainerRecord[]> {
  if (source.kind === "docker" || source.kind === "swarm") {
    const inventory = new Inventory(docker);
    await inventory.resync();
    if (source.kind === "docker") return inventory.list();
    return (await SwarmSource.once(docker, inventory)).list();
  }
  const { EtcdSource } = await import("../discovery/etcd.ts");
  const etcd = new EtcdSource(source.endpoints, source.prefix, () => {});
  etcd.start();
  try {
    if (!(await etcd.ready(ETCD_READ_MS))) {
      throw new Error(
        `etcd at ${source.endpoints.join(",")} not readable within ${
          ETCD_READ_MS / 1000
        } s`,
      );
    }
    return etcd.list();
  } finally {
    await etcd.close();
  }
}

/** Server states and host maps from HAProxy's admin socket. */
async function askHAProxy(settings: HAProxySettings): Promise<HAProxyView> {
  const { statsSocket, httpsBind } = checkSettings(settings);
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
    const maps = mapFilesFor(settings.configFile, {
      statsSocket,
      https: httpsBind.length > 0,
      acme: false,
      perPortFrontends: settings.perPortFrontends === true,
    });
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
  settings: HAProxySettings,
  source: SourceSettings,
  docker: DockerClient,
): Promise<RouteReport> {
  const options = routeOptions(settings);
  const all = await containersOf(source, docker);
  const { damped } = damping(all, Date.now());
  // The listeners the daemon's HAProxy would not open (rejections.ts).
  const rejected = parseRejections(
    await readOrNull(rejectionsFile(settings.configFile)) ?? "[]",
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
  );
  return routeReport(table, unrouted, await askHAProxy(settings));
}

/** The report as the command prints it: aligned text, or JSON with `json`. */
export function printable(report: RouteReport, json: boolean): string {
  return json ? JSON.stringify(report, null, 2) : formatReport(report);
}
