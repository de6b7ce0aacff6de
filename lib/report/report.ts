/**
 * What `docker-balancer routes` shows: every route with its servers and the
 * state HAProxy reports for each, then every container that is not routed
 * and why. Pure: built from the route model's output, the damped
 * containers and HAProxy's server states.
 *
 * @module
 */

import { isPlainHost, poolKey } from "../haproxy/model/pool.ts";
import { settingWords } from "../routing/route_settings.ts";
import { shownMatch } from "../routing/route_match.ts";
import type { UnroutedRow } from "../routing/unrouted.ts";
import type {
  HttpRoute,
  RouteTable,
  TcpRoute,
} from "../routing/route_types.ts";
import type { ServerState } from "../haproxy/io/runtime.ts";

/**
 * A server's state as HAProxy reports it; `absent` when HAProxy does not
 * have the server (not applied yet), `unknown` when HAProxy was not asked.
 */
export type ServerStateName =
  | "up"
  | "down"
  | "starting"
  | "stopping"
  | "drain"
  | "maint"
  | "absent"
  | "unknown";

/** One server of a route. */
export interface ServerRow {
  /** HAProxy server name. */
  readonly name: string;
  /** Container name (`name@host` for a container of another host). */
  readonly container: string;
  /** Container id. */
  readonly containerId: string;
  /** Address HAProxy connects to. */
  readonly address: string;
  /** Port HAProxy connects to. */
  readonly port: number;
  /** Weight as the labels give it. */
  readonly weight: number;
  /** State as HAProxy reports it. */
  readonly state: ServerStateName;
}

/** One route: where requests come in, and the servers behind it. */
export interface RouteRow {
  /** `http`, `https`, `http+https`, `https` with `redirect: true`, or `tcp`. */
  readonly frontend: "http" | "https" | "http+https" | "tcp";
  /** Plain HTTP requests get a redirect to HTTPS (`redirect_https`). */
  readonly redirect: boolean;
  /** Host ("" for the default backend, `*.domain` for a wildcard); TCP: "". */
  readonly host: string;
  /** Path prefix, "" for every path; TCP: "". */
  readonly prefix: string;
  /** TCP listen port; for HTTP, the label port with per-port frontends, else 0. */
  readonly listen: number;
  /** The HAProxy backend that holds the servers. */
  readonly backend: string;
  /** Servers by name. */
  readonly servers: readonly ServerRow[];
  /**
   * Options set by labels, as `label=value` (`auth=users alice`,
   * `sni=db.example.com`); none for a route without options.
   */
  readonly options: readonly string[];
}

/** What HAProxy said, or why it could not be asked. */
export interface HAProxyView {
  /** Server states, or null when HAProxy was not asked or did not answer. */
  readonly states: readonly ServerState[] | null;
  /** Backend of each host map key ({@link poolKey}) HAProxy finds through its host maps. */
  readonly hostBackends: ReadonlyMap<string, string>;
  /** Why there are no states, when there are none. */
  readonly error?: string;
}

/** The whole report. */
export interface RouteReport {
  /** HTTP routes in match order, then TCP routes by port. */
  readonly routes: readonly RouteRow[];
  /** Containers not routed, by container name. */
  readonly unrouted: readonly UnroutedRow[];
  /** Why HAProxy's states are missing, if they are. */
  readonly haproxyError?: string;
}

// srv_admin_state bits (HAProxy's SRV_ADMF_*): forced, inherited, config,
// resolution and health-check maintenance; forced and inherited drain.
const ADMIN_MAINT = 0x01 | 0x02 | 0x04 | 0x20 | 0x40;
const ADMIN_DRAIN = 0x08 | 0x10;
const OP_STATES: readonly ServerStateName[] = [
  "down",
  "starting",
  "up",
  "stopping",
];

/** The state name of one `show servers state` line. */
export function stateName(state: ServerState): ServerStateName {
  if (state.adminState & ADMIN_MAINT) return "maint";
  // A stopping container's server is drained by a weight of 0.
  if (state.adminState & ADMIN_DRAIN || state.weight === 0) return "drain";
  return OP_STATES[state.opState] ?? "unknown";
}

function frontendOf(route: HttpRoute): RouteRow["frontend"] {
  if (route.settings.redirectHttps) return "https";
  return route.settings.tls ? "http+https" : "http";
}

/**
 * The report for a route table (as the route model built it, before any
 * pool assignment), the unrouted containers and what HAProxy said.
 */
export function routeReport(
  table: RouteTable,
  unrouted: readonly UnroutedRow[],
  haproxy: HAProxyView,
): RouteReport {
  const states = new Map(
    (haproxy.states ?? []).map((s) => [`${s.backend}/${s.name}`, s]),
  );
  const rowsOf = (
    backend: string,
    route: HttpRoute | TcpRoute,
  ): ServerRow[] =>
    route.servers.map((server) => {
      const state = haproxy.states === null
        ? "unknown"
        : states.get(`${backend}/${server.name}`);
      return {
        name: server.name,
        container: server.containerName,
        containerId: server.containerId,
        address: server.address,
        port: server.port,
        weight: server.weight,
        state: state === undefined
          ? "absent"
          : typeof state === "string"
          ? state
          : stateName(state),
      };
    });
  const routes: RouteRow[] = [
    ...table.routes.map((route) => {
      // A plain host may be served from a pool backend found through a
      // host map; HAProxy's map says which.
      const backend = isPlainHost(route)
        ? haproxy.hostBackends.get(poolKey(route)) ?? route.backend
        : route.backend;
      return {
        frontend: frontendOf(route),
        redirect: route.settings.redirectHttps,
        host: route.host,
        prefix: route.prefix,
        listen: route.listen ?? 0,
        backend,
        servers: rowsOf(backend, route),
        options: [
          ...(route.match === undefined
            ? []
            : [`match=${shownMatch(route.match)}`]),
          ...settingWords(route.settings),
        ],
      };
    }),
    ...table.tcpRoutes.map((route) => ({
      frontend: "tcp" as const,
      redirect: false,
      host: "",
      prefix: "",
      listen: route.listen,
      backend: route.backend,
      servers: rowsOf(route.backend, route),
      options: [
        ...(route.sni === "" ? [] : [`sni=${route.sni}`]),
        ...(route.https ? ["passthrough on the HTTPS listener"] : []),
      ],
    })),
  ];
  return {
    routes,
    unrouted,
    ...(haproxy.error === undefined ? {} : { haproxyError: haproxy.error }),
  };
}

/** Pads columns to line up; the last column is not padded. */
export function alignColumns(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  return rows.map((row) =>
    row.map((cell, i) =>
      i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)
    ).join("  ").trimEnd()
  ).join("\n");
}

/** The report as aligned text for a terminal. */
export function formatReport(report: RouteReport): string {
  const out: string[] = [];
  const routeRows: string[][] = [[
    "FRONTEND",
    "HOST",
    "PATH",
    "CONTAINER",
    "ADDRESS",
    "WEIGHT",
    "STATE",
    "OPTIONS",
  ]];
  for (const route of report.routes) {
    const frontend = route.frontend === "tcp"
      ? `tcp:${route.listen}`
      : (route.redirect ? "https (http redirects)" : route.frontend) +
        // Per-port frontends: the port the route's frontend listens on.
        (route.listen > 0 ? ` on :${route.listen}` : "");
    for (const server of route.servers) {
      routeRows.push([
        frontend,
        route.frontend === "tcp" ? "-" : route.host || "(default)",
        route.frontend === "tcp" ? "-" : route.prefix || "/",
        server.container,
        `${server.address}:${server.port}`,
        String(server.weight),
        server.state,
        route.options.join(" ") || "-",
      ]);
    }
  }
  out.push(
    report.routes.length === 0 ? "No routes." : alignColumns(routeRows),
  );
  if (report.haproxyError !== undefined) {
    out.push(`\nState unknown: ${report.haproxyError}`);
  }
  if (report.unrouted.length > 0) {
    out.push(
      "\nNot routed:\n" + alignColumns([
        ["CONTAINER", "REASON", "LABEL", "DETAIL"],
        ...report.unrouted.map((row) => [
          row.container,
          row.reason,
          row.label ?? "-",
          row.detail,
        ]),
      ]),
    );
  }
  return out.join("\n");
}
