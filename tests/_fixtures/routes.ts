/**
 * Compact text views of a routing table, for table tests.
 *
 * @module
 */

import type { RouteTable, Server } from "../../lib/haproxy/routes.ts";

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
