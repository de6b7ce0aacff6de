/**
 * The parts of the route model: a container's claims (kept while its
 * record lives), the route of the claims on one host and prefix, match
 * order and backend names, TCP routes. Pure; routes.ts builds the table
 * from them and keeps it up to date.
 *
 * @module
 */

import { matchKey, type RouteMatch } from "./route_match.ts";
import type { ContainerRecord } from "../docker/container.ts";
import {
  claimsOf,
  type HttpClaim,
  type RouteOptions,
  type TcpClaim,
} from "./claims.ts";
import { type Finding } from "./findings.ts";
import { SETTING_LABELS } from "./route_settings.ts";
import { disagreement, shownSetting as shown } from "./route_settings.ts";

import type { HttpRoute, Server, TcpRoute } from "./route_types.ts";

/** Orders claims oldest container first: the oldest wins a conflict. */
export function byAge(
  a: HttpClaim | TcpClaim,
  b: HttpClaim | TcpClaim,
): number {
  return compare(a.container.created, b.container.created) ||
    compare(a.container.name, b.container.name) || a.port - b.port;
}

/** Compares two strings in code point order. */
export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Match order: named hosts before the default host, longer hosts first (an
 * exact host before a wildcard of the same length), then longer prefixes
 * first, so `/dashboard/horizon` is tested before `/`.
 */
export function compareRoutes(
  a: Pick<HttpRoute, "host" | "prefix" | "match">,
  b: Pick<HttpRoute, "host" | "prefix" | "match">,
): number {
  if ((a.host === "") !== (b.host === "")) return a.host === "" ? 1 : -1;
  if (a.host.length !== b.host.length) return b.host.length - a.host.length;
  const aWild = a.host.startsWith("*.");
  const bWild = b.host.startsWith("*.");
  if (aWild !== bWild) return aWild ? 1 : -1;
  return compare(a.host, b.host) || b.prefix.length - a.prefix.length ||
    compare(a.prefix, b.prefix) || byMatch(a.match, b.match);
}

/** A route with a match before the one without, which takes the rest. */
function byMatch(a: RouteMatch | undefined, b: RouteMatch | undefined): number {
  if ((a === undefined) !== (b === undefined)) return a === undefined ? 1 : -1;
  return compare(matchKey(a), matchKey(b));
}

// HAProxy names take letters, digits and -_.: only. Each part of a name
// is written so that two different routes or servers can never share one,
// whatever arrived before them: a name depends on its own route alone.

/**
 * A path prefix in a name: `/` as `_`, letters, digits, `.` and `-` as
 * they are, anything else (`_` and `:` among them) as `:` and two hex
 * digits, so `/a_b` and `/a/b` stay apart.
 */
function prefixPart(prefix: string): string {
  return prefix.replace(
    /[^A-Za-z0-9.-]/g,
    (c) =>
      c === "/" ? "_" : `:${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
}

/**
 * A host in a name: the default host as `default`, `*.` as `wildcard.`,
 * and a host that could be read as one of those (`default`,
 * `wildcard.example.com`) behind a `:`, which no host name has.
 */
function hostPart(host: string): string {
  if (host === "") return "default";
  if (host.startsWith("*.")) return `wildcard.${host.slice(2)}`;
  return host === "default" || host.startsWith("wildcard.") ? `:${host}` : host;
}

/**
 * A match in a name, after the prefix: `..` (no host or prefix part has
 * two dots in a row), then the kind, name and value written as a prefix
 * is.
 */
function matchPart(match: RouteMatch | undefined): string {
  if (match === undefined) return "";
  const name = match.kind === "header" ? match.name.toLowerCase() : match.name;
  return `..${match.kind}.${prefixPart(name)}.${prefixPart(match.value)}`;
}

/** A route's backend name: a function of its host, prefix, port and match alone. */
export function backendName(
  host: string,
  prefix: string,
  listen: number | undefined,
  match?: RouteMatch,
): string {
  return `http_${listen === undefined ? "" : `${listen}_`}${hostPart(host)}${
    prefixPart(prefix)
  }${matchPart(match)}`;
}

/** Servers by claim: a container's claims are kept while its record lives (claimsFor). */
const servers = new WeakMap<HttpClaim | TcpClaim, Server>();

function serverOf(claim: HttpClaim | TcpClaim): Server {
  let server = servers.get(claim);
  if (server === undefined) {
    server = newServer(claim);
    servers.set(claim, server);
  }
  return server;
}

function newServer(claim: HttpClaim | TcpClaim): Server {
  // Names repeat across hosts; the host id keeps servers apart.
  const host = claim.container.host;
  return {
    // Container names and host ids have no `:`: the host id before one
    // keeps `h.a` on host `x` apart from `a` on host `x.h`.
    name: `${host ? `${host.id}:` : ""}${claim.container.name}:${claim.port}`,
    containerId: claim.container.id,
    containerName: host
      ? `${claim.container.name}@${host.id}`
      : claim.container.name,
    address: claim.target.address,
    port: claim.target.port,
    weight: claim.weight,
    draining: claim.container.stopping === true,
    maxconn: "maxconn" in claim ? claim.maxconn : 0,
    ...("proxy" in claim && claim.proxy !== undefined
      ? { proxy: claim.proxy }
      : {}),
  };
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

/** A claim's route key: host and prefix, and with per-port frontends the port. */
export function httpGroupKey(claim: HttpClaim, perPort: boolean): string {
  const route = `${claim.host}\n${claim.prefix}\n${matchKey(claim.match)}`;
  return perPort ? `${claim.port}\n${route}` : route;
}

/** The route of one group of claims (backend not named yet), and the claims it turned down. */
export interface GroupRoute {
  /** The route, with an empty backend name. */
  readonly route: HttpRoute;
  /** Conflicts: claims whose settings differ from the oldest claim's. */
  readonly findings: readonly Finding[];
}

/** The route of claims on one host and prefix (and port): the oldest container's settings win. */
export function groupRoute(
  claims: readonly HttpClaim[],
  perPort: boolean,
): GroupRoute | null {
  const group = [...claims].sort(byAge);
  const winner = group[0];
  if (winner === undefined) return null;
  const servers: Server[] = [];
  const findings: Finding[] = [];
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
  return {
    route: {
      host: winner.host,
      prefix: winner.prefix,
      ...(winner.match === null ? {} : { match: winner.match }),
      settings: winner.settings,
      backend: "",
      servers: servers.sort(byName),
      ...(perPort ? { listen: winner.port } : {}),
    },
    findings,
  };
}

/** Orders routes by match order, their port after. */
export function byMatchOrder(a: HttpRoute, b: HttpRoute): number {
  return compareRoutes(a, b) || (a.listen ?? 0) - (b.listen ?? 0);
}

/** Puts group routes in match order and names their backends; their findings come in the same order. */
export function nameRoutes(
  groups: readonly GroupRoute[],
): { routes: HttpRoute[]; findings: Finding[] } {
  const sorted = [...groups].sort((a, b) => byMatchOrder(a.route, b.route));
  const routes = sorted.map(({ route }) => ({
    ...route,
    backend: backendName(route.host, route.prefix, route.listen, route.match),
  }));
  return { routes, findings: sorted.flatMap((group) => group.findings) };
}

/**
 * Containers on one listen port and server name are replicas of one
 * service when they use the same container port; a different container
 * port is another service, and the older one keeps the listen port.
 */
export function tcpRoutes(
  claims: readonly TcpClaim[],
  findings: Finding[],
): TcpRoute[] {
  const routes: TcpRoute[] = [];
  // By listen port and name, oldest first: the findings come in that order too.
  const ordered = [...claims].sort((a, b) =>
    a.listen - b.listen || compare(a.sni, b.sni) || byAge(a, b)
  );
  for (
    const group of groupBy(ordered, (c) => `${c.listen} ${c.sni} ${c.https}`)
  ) {
    const winner = group[0];
    if (winner === undefined) continue;
    const servers: Server[] = [];
    const where = `TCP listen port ${winner.listen}${
      winner.sni === "" ? "" : ` (server name ${winner.sni})`
    }`;
    for (const claim of group) {
      if (claim.port !== winner.port) {
        findings.push({
          severity: "warning",
          reason: "conflict",
          container: claim.container.name,
          containerId: claim.container.id,
          label: `glue_tcp_${claim.port}_${
            claim.sni === "" ? "listen" : "sni"
          }`,
          message:
            `${where} not routed to port ${claim.port}: older container ${winner.container.name} serves a different service (port ${winner.port}) there and keeps it`,
        });
        continue;
      }
      servers.push(serverOf(claim));
    }
    routes.push({
      listen: winner.listen,
      port: winner.port,
      sni: winner.sni,
      https: winner.https,
      backend: tcpBackendName(winner.listen, winner.sni, winner.https),
      servers: servers.sort(byName),
    });
  }
  return routes;
}

/**
 * A TCP route's backend: `tcp_<listen>`, with the server name after it for
 * passthrough (written as hosts are in HTTP backend names), on `https` for
 * the HTTPS listener.
 */
export function tcpBackendName(
  listen: number,
  sni: string,
  https: boolean,
): string {
  const port = https ? "https" : String(listen);
  return sni === "" ? `tcp_${port}` : `tcp_${port}_${hostPart(sni)}`;
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

/** A container's claims and the findings of its labels, kept while its record lives. */
export function claimsFor(
  container: ContainerRecord,
  options: RouteOptions,
): { claims: ReturnType<typeof claimsOf>; findings: readonly Finding[] } {
  const known = claimCache.get(container);
  if (known !== undefined && known.options === options) return known;
  const own: Finding[] = [];
  const claims = claimsOf(container, options, own);
  const entry = { options, claims, findings: own };
  claimCache.set(container, entry);
  return entry;
}

/**
 * With per-port frontends an HTTP label port is a listening port: a TCP
 * claim on it is turned down with a finding.
 */
export function tcpBesideHttp(
  tcp: readonly TcpClaim[],
  routes: readonly HttpRoute[],
  perPort: boolean,
  findings: Finding[],
): TcpClaim[] {
  if (!perPort) return [...tcp];
  const httpPorts = new Set(routes.map((route) => route.listen));
  const ordered = [...tcp].sort((a, b) => a.listen - b.listen || byAge(a, b));
  return ordered.filter((claim) => {
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

/** Findings of containers' own labels, in container order. */
export function labelFindings(
  labelled: Iterable<readonly [ContainerRecord, readonly Finding[]]>,
): Finding[] {
  return [...labelled].sort(([a], [b]) =>
    compare(a.name, b.name) || compare(a.id, b.id)
  ).flatMap(([, own]) => own);
}
