/**
 * The route model: a pure function from container records to the routing
 * table HAProxy is rendered from, plus what was rejected and why.
 *
 * @module
 */

import { type ContainerRecord, isServing } from "../sources/container.ts";
import type { Finding, HttpClaim, RouteOptions, TcpClaim } from "./claims.ts";
import {
  claimsFor,
  groupRoute,
  httpGroupKey,
  labelFindings,
  nameRoutes,
  tcpBesideHttp,
  tcpRoutes,
} from "./route_groups.ts";
import type { RouteTable } from "./route_types.ts";
import { allNameLosers } from "./name_owners.ts";

export type {
  Finding,
  HttpRoute,
  RouteOptions,
  RouteSettings,
  RouteTable,
  Server,
  TcpRoute,
  UnroutedReason,
} from "./route_types.ts";
export { compareRoutes } from "./route_groups.ts";

/**
 * Builds the routing table from container records. Containers that are not
 * serving (stopped, paused, unhealthy, still starting) are left out;
 * containers with bad labels lose the affected route and get a finding.
 * Findings come in container order, then the conflicts in route order.
 */
export function buildRoutes(
  containers: readonly ContainerRecord[],
  options: RouteOptions = {},
): RouteTable {
  const perPort = options.perPortFrontends === true;
  const groups = new Map<string, HttpClaim[]>();
  const tcp: TcpClaim[] = [];
  const labelled: [ContainerRecord, readonly Finding[]][] = [];
  const http: HttpClaim[] = [];
  for (const container of containers) {
    if (!isServing(container)) continue;
    const { claims, findings } = claimsFor(container, options);
    if (findings.length > 0) labelled.push([container, findings]);
    http.push(...claims.http);
    tcp.push(...claims.tcp);
  }
  const losers = allNameLosers([...http, ...tcp]);
  for (const claim of http) {
    if (losers.lost.has(claim)) continue;
    const key = httpGroupKey(claim, perPort);
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [claim]);
    else group.push(claim);
  }
  const named = nameRoutes(
    [...groups.values()].flatMap((group) => groupRoute(group, perPort) ?? []),
  );
  const findings = [
    ...labelFindings(labelled),
    ...named.findings,
    ...losers.findings,
  ];
  const tcpClaims = tcpBesideHttp(
    tcp.filter((claim) => !losers.lost.has(claim)),
    named.routes,
    perPort,
    findings,
  );
  return {
    routes: named.routes,
    tcpRoutes: tcpRoutes(tcpClaims, findings),
    findings,
  };
}
