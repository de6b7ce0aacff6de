/**
 * What a template sees of a route table: plain objects with the names the
 * templates use (snake case), one view per route kept by the renderer while
 * the route is.
 *
 * @module
 */

import { escapeRegex } from "./labels.ts";
import type { HttpRoute, TcpRoute } from "./routes.ts";
import type { PooledTable } from "./pool.ts";

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
}

function serversOf(route: HttpRoute | TcpRoute): ServerView[] {
  return route.servers.map((
    { name, address, port, weight, draining, maxconn },
  ) => ({
    name,
    address,
    port,
    weight: draining ? 0 : weight,
    draining,
    maxconn,
  }));
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
  };
}

/** The view of an HTTP route. */
export function viewOf(route: HttpRoute): RouteView {
  const wildcard = route.host.startsWith("*.");
  return {
    host: route.host,
    host_match: wildcard ? route.host.slice(1) : route.host,
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
  };
}
