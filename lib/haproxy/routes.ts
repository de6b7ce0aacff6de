/**
 * The route model: a pure function from container records to the routing
 * table HAProxy is rendered from, plus what was rejected and why.
 *
 * @module
 */

import { type ContainerRecord, isServing } from "../docker/container.ts";
import {
  claimsOf,
  type Finding,
  type HttpClaim,
  type RouteOptions,
  type RouteSettings,
  SETTING_LABELS,
  type TcpClaim,
  type UnroutedReason,
} from "./claims.ts";

export type { Finding, RouteOptions, RouteSettings, UnroutedReason };

/** One server line of a backend. */
export interface Server {
  /** HAProxy server name, unique within its backend. */
  readonly name: string;
  /** Container the server points at. */
  readonly containerId: string;
  /** Container name, for logs. */
  readonly containerName: string;
  /** IP address of the container. */
  readonly address: string;
  /** Port HAProxy connects to: the container port, or the published host port for a container on another host. */
  readonly port: number;
  /** HAProxy weight, 0-256, as the labels give it. */
  readonly weight: number;
  /** The container is stopping: it finishes what it has and gets no new requests. */
  readonly draining: boolean;
  /** Connection limit (`maxconn` label); 0 for none. */
  readonly maxconn: number;
}

/** All containers serving one host and path prefix. */
export interface HttpRoute {
  /** Lower-case host, `*.domain` for any subdomain, "" for the default backend. */
  readonly host: string;
  /** Path prefix starting with `/`, or "" for every path. */
  readonly prefix: string;
  /** How the route is served: prefix stripping, TLS, checks, balancing, persistence. */
  readonly settings: RouteSettings;
  /** HAProxy backend name, unique in the table. */
  readonly backend: string;
  /** Servers, ordered by name. */
  readonly servers: readonly Server[];
  /** Found through the host map, in a pool backend (see pool.ts). */
  readonly mapped?: boolean;
  /**
   * With per-port frontends: the label port, which is the port its
   * frontend listens on; absent otherwise.
   */
  readonly listen?: number;
}

/** All containers serving TCP connections on one listen port. */
export interface TcpRoute {
  /** Port HAProxy listens on. */
  readonly listen: number;
  /** Container port the servers listen on. */
  readonly port: number;
  /** HAProxy frontend and backend name. */
  readonly backend: string;
  /** Servers, ordered by name. */
  readonly servers: readonly Server[];
}

/** The output of the route model. */
export interface RouteTable {
  /** HTTP routes in match order: most specific first. */
  readonly routes: readonly HttpRoute[];
  /** TCP routes by listen port. */
  readonly tcpRoutes: readonly TcpRoute[];
  /** Warnings and notes, in container order. */
  readonly findings: readonly Finding[];
}

/** Orders claims so the earliest-created container wins a conflict. */
function byAge(
  a: HttpClaim | TcpClaim,
  b: HttpClaim | TcpClaim,
): number {
  return compare(a.container.created, b.container.created) ||
    compare(a.container.name, b.container.name) || a.port - b.port;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Match order: named hosts before the default host, longer hosts first (an
 * exact host before a wildcard of the same length), then longer prefixes
 * first, so `/dashboard/horizon` is tested before `/`.
 */
export function compareRoutes(
  a: Pick<HttpRoute, "host" | "prefix">,
  b: Pick<HttpRoute, "host" | "prefix">,
): number {
  if ((a.host === "") !== (b.host === "")) return a.host === "" ? 1 : -1;
  if (a.host.length !== b.host.length) return b.host.length - a.host.length;
  const aWild = a.host.startsWith("*.");
  const bWild = b.host.startsWith("*.");
  if (aWild !== bWild) return aWild ? 1 : -1;
  return compare(a.host, b.host) || b.prefix.length - a.prefix.length ||
    compare(a.prefix, b.prefix);
}

function sanitizeName(value: string): string {
  return value.replace(/[^A-Za-z0-9._:-]/g, "_");
}

function backendName(
  host: string,
  prefix: string,
  listen: number | undefined,
): string {
  const hostPart = host === "" ? "default" : host.replace(/^\*\./, "wildcard.");
  return sanitizeName(
    `http_${listen === undefined ? "" : `${listen}_`}${hostPart}${
      prefix === "" ? "" : prefix
    }`,
  );
}

function serverOf(claim: HttpClaim | TcpClaim): Server {
  // Names repeat across hosts; the host id keeps servers apart.
  const host = claim.container.host;
  return {
    name: sanitizeName(
      `${host ? `${host.id}.` : ""}${claim.container.name}:${claim.port}`,
    ),
    containerId: claim.container.id,
    containerName: host
      ? `${claim.container.name}@${host.id}`
      : claim.container.name,
    address: claim.target.address,
    port: claim.target.port,
    weight: claim.weight,
    draining: claim.container.stopping === true,
    maxconn: "maxconn" in claim ? claim.maxconn : 0,
  };
}

const SETTING_KEYS = Object.keys(SETTING_LABELS) as (keyof RouteSettings)[];

/** The first setting two claims on one route disagree on, if any. */
function disagreement(
  a: RouteSettings,
  b: RouteSettings,
): keyof RouteSettings | undefined {
  // Claims of one container share their settings object.
  if (a === b) return undefined;
  return SETTING_KEYS.find((key) => a[key] !== b[key]);
}

function shown(settings: RouteSettings, key: keyof RouteSettings): string {
  const value = settings[key];
  return typeof value === "boolean"
    ? (value ? "1" : "0")
    : value === ""
    ? "(none)"
    : value;
}

function byName(a: Server, b: Server): number {
  return compare(a.name, b.name);
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): T[][] {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group === undefined) groups.set(k, [item]);
    else group.push(item);
  }
  return [...groups.values()];
}

function httpRoutes(
  claims: readonly HttpClaim[],
  findings: Finding[],
  perPort: boolean,
): HttpRoute[] {
  const routes: HttpRoute[] = [];
  const key = perPort
    ? (c: HttpClaim) => `${c.port}\n${c.host}\n${c.prefix}`
    : (c: HttpClaim) => `${c.host}\n${c.prefix}`;
  for (const group of groupBy(claims, key)) {
    group.sort(byAge);
    const winner = group[0];
    if (winner === undefined) continue;
    const servers: Server[] = [];
    for (const claim of group) {
      const key = disagreement(claim.settings, winner.settings);
      if (key !== undefined) {
        const label = SETTING_LABELS[key];
        findings.push({
          severity: "warning",
          reason: "conflict",
          container: claim.container.name,
          containerId: claim.container.id,
          label: `glue_http_${claim.port}_${label}`,
          message: `not routed on ${claim.host || "(default)"}${
            claim.prefix || "/"
          }: ${label}=${
            shown(claim.settings, key)
          } conflicts with older container ${winner.container.name} (${label}=${
            shown(winner.settings, key)
          }), which keeps the route`,
        });
        continue;
      }
      servers.push(serverOf(claim));
    }
    routes.push({
      host: winner.host,
      prefix: winner.prefix,
      settings: winner.settings,
      backend: "",
      servers: servers.sort(byName),
      ...(perPort ? { listen: winner.port } : {}),
    });
  }
  routes.sort((a, b) =>
    compareRoutes(a, b) || (a.listen ?? 0) - (b.listen ?? 0)
  );
  const used = new Set<string>();
  return routes.map((route) => {
    const base = backendName(route.host, route.prefix, route.listen);
    let name = base;
    for (let n = 2; used.has(name); n++) name = `${base}_${n}`;
    used.add(name);
    return { ...route, backend: name };
  });
}

/**
 * Containers on one listen port are replicas of one service when they use
 * the same container port; a different container port is another service,
 * and the older one keeps the listen port.
 */
function tcpRoutes(
  claims: readonly TcpClaim[],
  findings: Finding[],
): TcpRoute[] {
  const routes: TcpRoute[] = [];
  for (const group of groupBy(claims, (c) => String(c.listen))) {
    group.sort(byAge);
    const winner = group[0];
    if (winner === undefined) continue;
    const servers: Server[] = [];
    for (const claim of group) {
      if (claim.port !== winner.port) {
        findings.push({
          severity: "warning",
          reason: "conflict",
          container: claim.container.name,
          containerId: claim.container.id,
          label: `glue_tcp_${claim.port}_listen`,
          message:
            `TCP listen port ${claim.listen} not routed to port ${claim.port}: older container ${winner.container.name} serves a different service (port ${winner.port}) there and keeps it`,
        });
        continue;
      }
      servers.push(serverOf(claim));
    }
    routes.push({
      listen: winner.listen,
      port: winner.port,
      backend: `tcp_${winner.listen}`,
      servers: servers.sort(byName),
    });
  }
  return routes.sort((a, b) => a.listen - b.listen);
}

/**
 * A container record's claims and findings, kept while the record lives:
 * records are replaced, never changed, when Docker reports a change, so an
 * update re-reads the labels of the containers that changed only.
 */
const claimCache = new WeakMap<
  ContainerRecord,
  {
    readonly options: RouteOptions;
    readonly claims: ReturnType<typeof claimsOf>;
    readonly findings: readonly Finding[];
  }
>();

function claimsFor(
  container: ContainerRecord,
  options: RouteOptions,
  findings: Finding[],
): ReturnType<typeof claimsOf> {
  const known = claimCache.get(container);
  if (known !== undefined && known.options === options) {
    findings.push(...known.findings);
    return known.claims;
  }
  const own: Finding[] = [];
  const claims = claimsOf(container, options, own);
  claimCache.set(container, { options, claims, findings: own });
  findings.push(...own);
  return claims;
}

/**
 * Builds the routing table from container records. Containers that are not
 * serving (stopped, paused, unhealthy, still starting) are left out;
 * containers with bad labels lose the affected route and get a finding.
 */
export function buildRoutes(
  containers: readonly ContainerRecord[],
  options: RouteOptions = {},
): RouteTable {
  const findings: Finding[] = [];
  const http: HttpClaim[] = [];
  const tcp: TcpClaim[] = [];
  const sorted = [...containers].sort((a, b) =>
    compare(a.name, b.name) || compare(a.id, b.id)
  );
  for (const container of sorted) {
    if (!isServing(container)) continue;
    const claims = claimsFor(container, options, findings);
    http.push(...claims.http);
    tcp.push(...claims.tcp);
  }
  const routes = httpRoutes(http, findings, options.perPortFrontends === true);
  let tcpClaims: TcpClaim[] = tcp;
  if (options.perPortFrontends) {
    // An HTTP label port is a listening port: TCP cannot take it too.
    const httpPorts = new Set(routes.map((route) => route.listen));
    tcpClaims = tcp.filter((claim) => {
      if (!httpPorts.has(claim.listen)) return true;
      findings.push({
        severity: "warning",
        reason: "conflict",
        container: claim.container.name,
        containerId: claim.container.id,
        label: "glue_tcp_ports",
        message:
          `TCP listen port ${claim.listen} not routed: an HTTP frontend listens there (--per-port-frontends)`,
      });
      return false;
    });
  }
  return {
    routes,
    tcpRoutes: tcpRoutes(tcpClaims, findings),
    findings,
  };
}
