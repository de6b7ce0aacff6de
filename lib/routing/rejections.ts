/**
 * What HAProxy refused, left out on its own so that one container's
 * mistake never keeps the others from being routed: a listener HAProxy
 * could not open (a port a container's labels ask for that another
 * program holds; `haproxy -c` does not bind, so this shows only when
 * HAProxy starts or reloads), and a route whose part of the file
 * `haproxy -c` rejected (check_faults.ts finds it). Each is an input to
 * the next build, which leaves it out until its containers change or the
 * retry time has passed.
 *
 * @module
 */

import { matchKey, shownMatch } from "./route_match.ts";
import type { ContainerRecord } from "../docker/container.ts";
import { writeAtomically } from "../util/files.ts";
import type { Finding } from "./findings.ts";
import type { HttpRoute, RouteTable, TcpRoute } from "./route_types.ts";

/** A label listener HAProxy could not start, or a route it rejected. */
export interface Rejection {
  /** `listen <port>` for a listener, `route <...>` ({@link routeKey}) for a route. */
  readonly key: string;
  /** The containers that asked for it, ids sorted and joined: a change of them tries again. */
  readonly containers: string;
  /** HAProxy's words. */
  readonly message: string;
  /** When it was rejected, ms since the epoch. */
  readonly at: number;
}

/**
 * How long a rejected listener stays out before it is tried again: the
 * operator may have freed the port meanwhile, and nothing else tells us.
 */
export const REJECTION_RETRY_MS = 5 * 60_000;

/** The ports HAProxy's error lines say it could not bind. */
export function unboundPorts(message: string): number[] {
  const ports = new Set<number>();
  for (
    const match of message.matchAll(
      /cannot bind socket[^\[]*\[[^\]]*?:([0-9]+)\]/g,
    )
  ) ports.add(Number(match[1]));
  return [...ports];
}

/** The routes that open a listener of their own, by port. */
function labelListeners(
  table: RouteTable,
): Map<number, (HttpRoute | TcpRoute)[]> {
  const out = new Map<number, (HttpRoute | TcpRoute)[]>();
  const add = (port: number, route: HttpRoute | TcpRoute) =>
    out.set(port, [...out.get(port) ?? [], route]);
  for (const route of table.tcpRoutes) add(route.listen, route);
  for (const route of table.routes) {
    if (route.listen !== undefined) add(route.listen, route);
  }
  return out;
}

function containersKey(routes: readonly (HttpRoute | TcpRoute)[]): string {
  return [
    ...new Set(
      routes.flatMap((route) => route.servers.map((s) => s.containerId)),
    ),
  ].sort().join(",");
}

/**
 * The rejections an error from HAProxy's start or reload names: one per
 * port of a label listener in `table` it could not bind. Empty when the
 * error is about something else (the operator's own binds among them).
 */
export function traceRejections(
  message: string,
  table: RouteTable,
  now: number,
): Rejection[] {
  const listeners = labelListeners(table);
  const out: Rejection[] = [];
  for (const port of unboundPorts(message)) {
    const routes = listeners.get(port);
    if (routes === undefined) continue;
    // HAProxy's own line for this port, from "cannot bind" on.
    const words = message.split(/ \| |\n/).find((line) =>
      line.includes("cannot bind") && line.includes(`:${port}]`)
    )?.replace(/^.*?(cannot bind)/, "$1") ?? message;
    out.push({
      key: listenKey(port),
      containers: containersKey(routes),
      message: words,
      at: now,
    });
  }
  return out;
}

/** The label that opened `port` for a container, when it can be told. */
function labelFor(
  container: ContainerRecord | undefined,
  route: HttpRoute | TcpRoute,
  port: number,
): string | undefined {
  const labels = container?.labels ?? {};
  if ("host" in route) {
    const key = `glue_http_${port}_host`;
    return key in labels ? key : undefined;
  }
  const key = `glue_tcp_${route.port}_listen`;
  if (key in labels) return key;
  return "glue_tcp_ports" in labels ? "glue_tcp_ports" : undefined;
}

function listenKey(port: number): string {
  return `listen ${port}`;
}

/** What names a route across builds: its host and prefix, or its listener and name. */
export function routeKey(route: HttpRoute | TcpRoute): string {
  return "host" in route
    ? `route http ${route.listen ?? ""} ${route.host} ${route.prefix}${
      route.match === undefined ? "" : ` ${matchKey(route.match)}`
    }`
    : `route tcp ${route.listen} ${route.sni} ${route.https}`;
}

/** The rejections of `routes`, with HAProxy's words. */
export function routeRejections(
  routes: readonly (HttpRoute | TcpRoute)[],
  message: string,
  now: number,
): Rejection[] {
  return routes.map((route) => ({
    key: routeKey(route),
    containers: containersKey([route]),
    message,
    at: now,
  }));
}

/** The label that made a route for a container, when it can be told. */
function routeLabel(
  container: ContainerRecord | undefined,
  route: HttpRoute | TcpRoute,
): string | undefined {
  const labels = container?.labels ?? {};
  if (!("host" in route)) {
    return "glue_tcp_ports" in labels ? "glue_tcp_ports" : undefined;
  }
  return Object.keys(labels).sort().find((key) =>
    /^glue_http_[0-9]+_host$/.test(key) &&
    (labels[key] ?? "").toLowerCase().split(",").map((h) => h.trim())
      .includes(route.host)
  );
}

/**
 * The table without the listeners and routes HAProxy rejected, with a
 * finding for each container that loses a route (reason `rejected`,
 * HAProxy's words). A rejection holds while the same containers make
 * the route or ask for the port, for {@link REJECTION_RETRY_MS}; `live`
 * says which still hold.
 */
export function withoutRejected(
  table: RouteTable,
  rejections: ReadonlyMap<string, Rejection>,
  containers: readonly ContainerRecord[],
  now: number,
): { table: RouteTable; live: Map<string, Rejection> } {
  const live = new Map<string, Rejection>();
  if (rejections.size === 0) return { table, live };
  const holds = (key: string, routes: readonly (HttpRoute | TcpRoute)[]) => {
    const rejection = rejections.get(key);
    if (
      rejection !== undefined &&
      rejection.containers === containersKey(routes) &&
      now - rejection.at < REJECTION_RETRY_MS
    ) live.set(key, rejection);
  };
  for (const [port, routes] of labelListeners(table)) {
    holds(listenKey(port), routes);
  }
  for (const route of [...table.routes, ...table.tcpRoutes]) {
    holds(routeKey(route), [route]);
  }
  if (live.size === 0) return { table, live };
  const byId = new Map(containers.map((c) => [c.id, c]));
  const findings: Finding[] = [];
  const retry = `tried again when its containers change, or in ${
    REJECTION_RETRY_MS / 60_000
  } minutes`;
  const keep = <R extends HttpRoute | TcpRoute>(route: R, port?: number) => {
    const listener = port === undefined ? undefined : live.get(listenKey(port));
    const own = live.get(routeKey(route));
    if (listener === undefined && own === undefined) return true;
    for (const server of route.servers) {
      const container = byId.get(server.containerId);
      const label = listener !== undefined && port !== undefined
        ? labelFor(container, route, port)
        : routeLabel(container, route);
      findings.push({
        severity: "warning",
        reason: "rejected",
        container: server.containerName,
        containerId: server.containerId,
        ...(label === undefined ? {} : { label }),
        message: listener !== undefined
          ? `HAProxy cannot listen on port ${port}: ${listener.message}; ${retry}`
          : `HAProxy rejected the configuration with this route (${
            shownRoute(route)
          }): ${own!.message}; the other routes were installed; ${retry}`,
      });
    }
    return false;
  };
  return {
    table: {
      routes: table.routes.filter((route) => keep(route, route.listen)),
      tcpRoutes: table.tcpRoutes.filter((route) => keep(route, route.listen)),
      findings: [...table.findings, ...findings],
    },
    live,
  };
}

/** A route as an operator names it: host and path, or TCP port and name. */
export function shownRoute(route: HttpRoute | TcpRoute): string {
  return "host" in route
    ? `${route.host || "(default)"}${route.prefix || "/"}${
      route.match === undefined ? "" : ` (${shownMatch(route.match)})`
    }`
    : `TCP ${route.listen}${route.sni === "" ? "" : ` ${route.sni}`}`;
}

/** Where the engine keeps the rejections of `configFile`, for `routes`. */
export function rejectionsFile(configFile: string): string {
  return `${configFile}.rejections.json`;
}

/** The rejections as the file `routes` reads them: JSON, one object each. */
export function rejectionsText(rejections: Iterable<Rejection>): string {
  return `${JSON.stringify([...rejections], null, 1)}\n`;
}

/**
 * Reads the rejections file the engine keeps. It is input like any other
 * file: an entry of the wrong shape is left out. An entry of the first
 * format (a listener by `port`) is read too.
 */
export function parseRejections(text: string): Map<string, Rejection> {
  const out = new Map<string, Rejection>();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return out;
  }
  if (!Array.isArray(parsed)) return out;
  for (const entry of parsed as unknown[]) {
    if (typeof entry !== "object" || entry === null) continue;
    const { key, port, containers, message, at } = entry as Record<
      string,
      unknown
    >;
    const named = typeof key === "string" &&
        /^(listen [0-9]{1,5}|route [\x20-\x7e]{1,2100})$/.test(key)
      ? key
      : typeof port === "number" && Number.isInteger(port) && port > 0 &&
          port < 65536
      ? listenKey(port)
      : undefined;
    if (
      named !== undefined && typeof containers === "string" &&
      typeof message === "string" && typeof at === "number"
    ) out.set(named, { key: named, containers, message, at });
  }
  return out;
}

/**
 * The engine's rejected listeners and routes, kept in a file beside the
 * configuration so `routes` can tell why a container is not routed.
 */
export class Rejections {
  readonly #file: string | null;
  #current = new Map<string, Rejection>();
  /** Unknown at first: a file left by an earlier run is replaced. */
  #saved = "";

  /**
   * Creates the set; `file` is where it is kept for `routes`, null for
   * nowhere (a dry run, or `routes` reading the daemon's, `current`).
   */
  constructor(
    file: string | null,
    current: ReadonlyMap<string, Rejection> = new Map(),
  ) {
    this.#file = file;
    this.#current = new Map(current);
  }

  /** The table without the rejected listeners that still hold (see {@link withoutRejected}). */
  async filter(
    table: RouteTable,
    containers: () => readonly ContainerRecord[],
    now: number,
  ): Promise<RouteTable> {
    const { table: kept, live } = withoutRejected(
      table,
      this.#current,
      // Every container only when some listener is rejected.
      this.#current.size === 0 ? [] : containers(),
      now,
    );
    this.#current = live;
    await this.#save();
    return kept;
  }

  /**
   * Takes note of the label listeners an error from HAProxy names. Returns
   * whether there were any: then leaving them out may let HAProxy start.
   */
  async trace(
    message: string,
    table: RouteTable,
    now: number,
  ): Promise<boolean> {
    const found = traceRejections(message, table, now);
    await this.add(found);
    return found.length > 0;
  }

  /** Takes note of rejections (routes `haproxy -c` refused). */
  async add(rejections: readonly Rejection[]): Promise<void> {
    for (const rejection of rejections) {
      this.#current.set(rejection.key, rejection);
    }
    if (rejections.length > 0) await this.#save();
  }

  async #save(): Promise<void> {
    const text = rejectionsText(this.#current.values());
    if (text === this.#saved || this.#file === null) return;
    if (this.#current.size === 0) {
      await Deno.remove(this.#file).catch((error) => {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      });
    } else await writeAtomically(this.#file, text);
    this.#saved = text;
  }
}
