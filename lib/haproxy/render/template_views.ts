/**
 * What a template sees of a route table: plain objects with the names the
 * templates use (snake case), one view per route kept by the renderer while
 * the route is.
 *
 * @module
 */

import { escapeRegex } from "../../routing/labels.ts";
import { compare } from "../../routing/route_groups.ts";
import { quoteConfig } from "../../routing/route_options.ts";
import { matchCondition } from "../../routing/route_match.ts";
import type { HttpRoute, TcpRoute } from "../../routing/route_types.ts";
import type { PooledTable } from "../model/pool.ts";

/** One HTTP frontend as the template sees it. */
export interface HttpFrontendView {
  readonly name: string;
  readonly binds: string[];
  readonly routes: RouteView[];
  /** Its routes not served through the host map: those that need rules of their own. */
  readonly unmapped: RouteView[];
  /** The sample expression whose value the frontend looks up in the host map. */
  readonly host_key: string;
}

/** What the template sees for one server. */
export interface ServerView {
  name: string;
  address: string;
  port: number;
  /** The weight in force: 0 while draining, so any template drains. */
  weight: number;
  draining: boolean;
  /** Connection limit, 0 for none. */
  maxconn: number;
  /** PROXY protocol version sent to it (`v1`, `v2`), "" for none. */
  proxy: string;
}

/** What the template sees for one HTTP route. */
export interface RouteView {
  host: string;
  host_match: string;
  wildcard: boolean;
  prefix: string;
  prefix_regex: string;
  strip_prefix: boolean;
  tls: boolean;
  redirect_https: boolean;
  check: string;
  balance: string;
  sticky: boolean;
  backend: string;
  servers: readonly ServerView[];
  mapped: boolean;
  /** Basic-authentication users; the userlist is named after the backend. */
  auth: readonly { user: string; hash: string }[];
  /** The realm the browser shows, quoted. */
  auth_realm: string;
  /** Client addresses and ranges let in; none for all. */
  allow: readonly string[];
  /** Requests per client address in a period; null for no limit. */
  rate_limit: { requests: number; period: string } | null;
  /** `Strict-Transport-Security` value, quoted; "" for none. */
  hsts: string;
  /** Headers set on requests: names, and values quoted for the parser. */
  request_headers: readonly HeaderView[];
  /** Headers set on responses, likewise. */
  response_headers: readonly HeaderView[];
  compress: boolean;
  /** `timeout server` value; "" for the default. */
  timeout: string;
  /** `timeout tunnel` value; "" for the default. */
  tunnel_timeout: string;
  /** Errors in a row that take a server out; 0 for off. */
  error_limit: number;
  /** `http` or `https`: how HAProxy reaches the containers. */
  scheme: string;
  /** Words after each server for `scheme=https`; "" for plain HTTP. */
  server_tls: string;
  /** A `redirect_from` name's route: the host its requests get a 308 to; "" for none. */
  redirect_to: string;
  /** The condition of a match route (`req.hdr(X-Canary) -m str 1`); "" for none. */
  match: string;
  /** Each request is asked about first (the `auth_map` says where). */
  forward_auth: boolean;
  /** The headers a yes sets on the request; the client's are removed. */
  forward_auth_headers: readonly string[];
  /** How long the answer may take, ms. */
  forward_auth_timeout: number;
}

/** A header a route sets, as the template writes it. */
export interface HeaderView {
  readonly name: string;
  /** The value, quoted and escaped for HAProxy's parser; "" to remove the header. */
  readonly value: string;
}

/** A pool backend as the template sees it. */
export interface SlotView {
  readonly backend: string;
  readonly servers: readonly ServerView[];
  readonly route: RouteView | null;
}

/** A pool backend of a {@link PooledTable}. */
export type PoolSlot = PooledTable["pool"][number];

/** What the template sees for one TCP route. */
export interface TcpView {
  listen: number;
  bind: string;
  backend: string;
  servers: readonly ServerView[];
  /** Server name it is picked by (TLS passthrough); "" for none. */
  sni: string;
  /** What `req_ssl_sni` is matched with: the name, or `.domain` for a wildcard. */
  sni_match: string;
  wildcard: boolean;
  /** Passed through on the HTTPS listener. */
  https: boolean;
}

/** One TCP listen port: its server-name rules and the route for the rest. */
export interface TcpFrontendView {
  readonly name: string;
  readonly bind: string;
  /** Routes picked by server name: exact names first. */
  readonly sni_routes: readonly TcpView[];
  /** Backend of the route without a server name; "" for none. */
  readonly default_backend: string;
}

function serversOf(route: HttpRoute | TcpRoute): ServerView[] {
  return route.servers.map((
    { name, address, port, weight, draining, maxconn, proxy },
  ) => ({
    name,
    address,
    port,
    weight: draining ? 0 : weight,
    draining,
    maxconn,
    proxy: proxy ?? "",
  }));
}

/** What a name is matched with: itself, or `.domain` for `*.domain`. */
function matchOf(name: string): string {
  return name.startsWith("*.") ? name.slice(1) : name;
}

/** The view of a TCP route, bound on `address`. */
export function tcpViewOf(route: TcpRoute, address: string): TcpView {
  // An IPv6 address needs brackets before the port.
  const host = address.includes(":") && !address.startsWith("[")
    ? `[${address}]`
    : address;
  return {
    listen: route.listen,
    bind: `${host}:${route.listen}`,
    backend: route.backend,
    servers: serversOf(route),
    sni: route.sni,
    sni_match: matchOf(route.sni),
    wildcard: route.sni.startsWith("*."),
    https: route.https,
  };
}

/** One `use_backend ... if { req_ssl_sni ... }` rule of an SNI frontend. */
export interface SniRuleView {
  readonly backend: string;
  readonly sni_match: string;
  readonly wildcard: boolean;
}

/**
 * Match order of server names: exact names first, then wildcards, the
 * narrower (longer) first, so `*.example.com` is tried before `*.com`.
 */
function bySni(a: SniRuleView, b: SniRuleView): number {
  return Number(a.wildcard) - Number(b.wildcard) ||
    b.sni_match.length - a.sni_match.length ||
    compare(a.sni_match, b.sni_match);
}

/**
 * The rules of the HTTPS listener's SNI frontend, in match order: the
 * passthrough routes, and the `guarded` hosts (name_owners.ts) sent to
 * `terminate`.
 */
export function httpsSniRules(
  passthrough: readonly TcpView[],
  guarded: readonly string[],
  terminate: string,
): SniRuleView[] {
  return [
    ...passthrough,
    ...guarded.map((host) => ({
      backend: terminate,
      sni_match: matchOf(host),
      wildcard: host.startsWith("*."),
    })),
  ].sort(bySni);
}

/**
 * The TCP frontends: one per listen port of the routes not on the HTTPS
 * listener; and the passthrough routes of the HTTPS listener.
 */
export function tcpFrontendsOf(
  views: readonly TcpView[],
): { frontends: TcpFrontendView[]; passthrough: TcpView[] } {
  const byPort = new Map<number, TcpView[]>();
  const passthrough: TcpView[] = [];
  for (const view of views) {
    if (view.https) {
      passthrough.push(view);
      continue;
    }
    const list = byPort.get(view.listen);
    if (list === undefined) byPort.set(view.listen, [view]);
    else list.push(view);
  }
  const frontends = [...byPort.entries()].sort(([a], [b]) => a - b).map((
    [listen, routes],
  ) => ({
    name: `tcp_${listen}`,
    bind: routes[0]!.bind,
    sni_routes: routes.filter((route) => route.sni !== "").sort(bySni),
    default_backend: routes.find((route) => route.sni === "")?.backend ?? "",
  }));
  return { frontends, passthrough: passthrough.sort(bySni) };
}

/**
 * The words after each server of an HTTPS route: verified against
 * `caFile` when one is given (the name against the request's host), else
 * encrypted without verification.
 */
function serverTls(route: HttpRoute, caFile: string): string {
  if (route.settings.scheme !== "https") return "";
  const plain = route.host !== "" && !route.host.startsWith("*.");
  const words = ["ssl"];
  words.push(
    ...(caFile === ""
      ? ["verify", "none"]
      : ["verify", "required", "ca-file", caFile]),
  );
  words.push("sni", "var(txn.host)");
  // Health checks run outside any request: they name the host themselves.
  if (plain) words.push("check-sni", route.host);
  if (plain && caFile !== "") words.push("verifyhost", route.host);
  return words.join(" ");
}

// An empty value removes the header, as with Traefik's labels: HAProxy
// reads "" as no argument at all.
function headersOf(
  headers: HttpRoute["settings"]["requestHeaders"],
): HeaderView[] {
  return headers.map(({ name, value }) => ({
    name,
    value: value === "" ? "" : quoteConfig(value),
  }));
}

/** The view of an HTTP route; `caFile` verifies HTTPS containers ("" for none). */
export function viewOf(route: HttpRoute, caFile = ""): RouteView {
  const wildcard = route.host.startsWith("*.");
  const settings = route.settings;
  return {
    host: route.host,
    host_match: matchOf(route.host),
    wildcard,
    prefix: route.prefix,
    prefix_regex: escapeRegex(route.prefix),
    strip_prefix: route.settings.stripPrefix,
    tls: route.settings.tls,
    redirect_https: route.settings.redirectHttps,
    check: route.settings.check,
    balance: route.settings.balance,
    sticky: route.settings.sticky,
    backend: route.backend,
    servers: serversOf(route),
    mapped: route.mapped === true,
    auth: settings.auth,
    auth_realm: quoteConfig(route.host || "restricted"),
    allow: settings.allow,
    rate_limit: settings.rateLimit,
    hsts: settings.hsts === null ? "" : quoteConfig(`max-age=${settings.hsts}`),
    request_headers: headersOf(settings.requestHeaders),
    response_headers: headersOf(settings.responseHeaders),
    compress: settings.compress,
    timeout: settings.timeout,
    tunnel_timeout: settings.tunnelTimeout,
    error_limit: settings.errorLimit,
    scheme: settings.scheme,
    server_tls: serverTls(route, caFile),
    redirect_to: settings.redirectTo,
    match: route.match === undefined ? "" : matchCondition(route.match),
    forward_auth: settings.forwardAuth !== null,
    forward_auth_headers: settings.forwardAuthHeaders,
    forward_auth_timeout: settings.forwardAuthTimeout,
  };
}
