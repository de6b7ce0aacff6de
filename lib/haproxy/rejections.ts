/**
 * Listeners HAProxy would not start: a port a container's labels ask for
 * that another program holds. `haproxy -c` does not bind, so this shows
 * only when HAProxy starts or reloads. HAProxy's words name the port; the
 * port names the route, and the route is dropped on its own, so one
 * container's mistake never keeps the others from being routed.
 *
 * @module
 */

import type { ContainerRecord } from "../docker/container.ts";
import { writeAtomically } from "../util/files.ts";
import type { Finding, HttpRoute, RouteTable, TcpRoute } from "./routes.ts";

/** A label listener HAProxy could not start. */
export interface Rejection {
  /** The port. */
  readonly port: number;
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
      port,
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

/**
 * The table without the listeners HAProxy rejected, with a finding for
 * each container that loses a route (reason `rejected`, HAProxy's words).
 * A rejection holds while the same containers ask for the port, for
 * {@link REJECTION_RETRY_MS}; `live` says which still hold.
 */
export function withoutRejected(
  table: RouteTable,
  rejections: ReadonlyMap<number, Rejection>,
  containers: readonly ContainerRecord[],
  now: number,
): { table: RouteTable; live: Map<number, Rejection> } {
  const live = new Map<number, Rejection>();
  if (rejections.size === 0) return { table, live };
  for (const [port, routes] of labelListeners(table)) {
    const rejection = rejections.get(port);
    if (
      rejection !== undefined &&
      rejection.containers === containersKey(routes) &&
      now - rejection.at < REJECTION_RETRY_MS
    ) live.set(port, rejection);
  }
  if (live.size === 0) return { table, live };
  const byId = new Map(containers.map((c) => [c.id, c]));
  const findings: Finding[] = [];
  const keep = <R extends HttpRoute | TcpRoute>(route: R, port?: number) => {
    const rejection = port === undefined ? undefined : live.get(port);
    if (rejection === undefined || port === undefined) return true;
    for (const server of route.servers) {
      const label = labelFor(byId.get(server.containerId), route, port);
      findings.push({
        severity: "warning",
        reason: "rejected",
        container: server.containerName,
        containerId: server.containerId,
        ...(label === undefined ? {} : { label }),
        message:
          `HAProxy cannot listen on port ${port}: ${rejection.message}; tried again when the containers on it change, or in ${
            REJECTION_RETRY_MS / 60_000
          } minutes`,
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

/** Where the engine keeps the rejected listeners of `configFile`, for `routes`. */
export function rejectionsFile(configFile: string): string {
  return `${configFile}.rejections.json`;
}

/** The rejections as the file `routes` reads them: JSON, one object per port. */
export function rejectionsText(rejections: Iterable<Rejection>): string {
  return `${JSON.stringify([...rejections], null, 1)}\n`;
}

/**
 * Reads the rejections file the engine keeps. It is input like any other
 * file: an entry of the wrong shape is left out.
 */
export function parseRejections(text: string): Map<number, Rejection> {
  const out = new Map<number, Rejection>();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return out;
  }
  if (!Array.isArray(parsed)) return out;
  for (const entry of parsed as unknown[]) {
    if (typeof entry !== "object" || entry === null) continue;
    const { port, containers, message, at } = entry as Record<string, unknown>;
    if (
      typeof port === "number" && Number.isInteger(port) && port > 0 &&
      port < 65536 && typeof containers === "string" &&
      typeof message === "string" && typeof at === "number"
    ) out.set(port, { port, containers, message, at });
  }
  return out;
}

/**
 * The engine's rejected listeners, kept in a file beside the configuration
 * so `routes` can tell why a container is not routed.
 */
export class Rejections {
  readonly #file: string | null;
  #current = new Map<number, Rejection>();
  /** Unknown at first: a file left by an earlier run is replaced. */
  #saved = "";

  /** Creates the set; `file` is where it is kept for `routes`, null for nowhere (a dry run). */
  constructor(file: string | null) {
    this.#file = file;
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
    for (const rejection of found) this.#current.set(rejection.port, rejection);
    if (found.length > 0) await this.#save();
    return found.length > 0;
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
