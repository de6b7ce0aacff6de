/**
 * The routing table's types: what the route model (routes.ts) produces and
 * the template, the planner and the report read.
 *
 * @module
 */

import type { Finding } from "./findings.ts";
import type { RouteSettings } from "./route_settings.ts";
import type { ProxyVersion } from "./route_options.ts";
import type { RouteMatch } from "./route_match.ts";

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
  /** PROXY protocol version sent to the container (a TCP route's `proxy_protocol`); absent for none. */
  readonly proxy?: ProxyVersion;
}

/** All containers serving one host and path prefix. */
export interface HttpRoute {
  /** Lower-case host, `*.domain` for any subdomain, "" for the default backend. */
  readonly host: string;
  /** Path prefix starting with `/`, or "" for every path. */
  readonly prefix: string;
  /**
   * The requests it takes among those of host and prefix (a canary's);
   * absent for the rest. Tried before the route without one.
   */
  readonly match?: RouteMatch;
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

/** All containers serving TCP connections on one listen port (and server name). */
export interface TcpRoute {
  /** Port HAProxy listens on. */
  readonly listen: number;
  /** Container port the servers listen on. */
  readonly port: number;
  /**
   * TLS server name the route is picked by (passthrough), wildcards as
   * for hosts; "" for every connection the others do not take.
   */
  readonly sni: string;
  /** Served on the HTTPS listener, beside the hosts HAProxy terminates. */
  readonly https: boolean;
  /** HAProxy backend name (and frontend name, for a listen port of its own). */
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
