/**
 * Compact text views of a routing table, for table tests.
 *
 * @module
 */

import type { RouteOptions } from "../../lib/routing/claims.ts";
import type { RouteTable, Server } from "../../lib/routing/route_types.ts";
import type { ContainerRecord } from "../../lib/docker/container.ts";

/** A server of `record` on port 80 at 10.0.0.2, weight 100. */
export function serverOf(record: ContainerRecord): Server {
  return {
    name: `${record.name}:80`,
    containerId: record.id,
    containerName: record.name,
    address: "10.0.0.2",
    port: 80,
    weight: 100,
    draining: false,
    maxconn: 0,
  };
}

/** Servers as `name@address:port*weight`, space-separated. */
export function describeServers(servers: readonly Server[]): string {
  return servers.map((s) =>
    `${s.containerName}@${s.address}:${s.port}*${s.weight}`
  ).join(" ");
}

/** The warnings of a table as `container label`. */
export function warningsOf(table: RouteTable): string[] {
  return table.findings.filter((f) => f.severity === "warning").map((f) =>
    `${f.container} ${f.label ?? "-"}`
  );
}

/** Routes as compact strings: `host/prefix[strip] -> name@ip:port*weight ...`. */
export function summary(table: RouteTable): string[] {
  return table.routes.map((r) =>
    `${r.host || "(default)"}${r.prefix || "/"}${
      r.settings.stripPrefix ? " strip" : ""
    } -> ${describeServers(r.servers)}`
  );
}

/** One table case: containers and options in, routes and warnings out. */
export interface Case {
  description: string;
  containers: ContainerRecord[];
  options?: RouteOptions;
  routes: string[];
  warnings?: string[];
}
