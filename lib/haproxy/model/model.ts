/**
 * The typed state HAProxy is asked to run: a structure (everything the
 * template sees except the servers) and the servers of every backend.
 * The planner compares two of these instead of two rendered files, so a
 * membership change costs what changed, not the size of the file. Pure.
 *
 * @module
 */

import { layered } from "../../util/layered_map.ts";
import { poolSlotOf } from "./pool.ts";
import type { RenderInput } from "../render/render.ts";
import type { HttpRoute, Server, TcpRoute } from "../../routing/route_types.ts";
import { guardedHosts } from "../../routing/name_owners.ts";

/** A server as HAProxy runs it. */
export interface ServerSpec {
  /** Address, without brackets or port. */
  readonly address: string;
  /** Port. */
  readonly port: number;
  /** Weight HAProxy gives it: 0 while it drains. */
  readonly weight: number;
  /** Connection limit; 0 for none. Changing it needs a reload. */
  readonly maxconn: number;
  /**
   * What else the runtime API cannot change: for a server read from a
   * file, the line's arguments other than its weight; otherwise the PROXY
   * protocol version it is sent.
   */
  readonly options?: string;
}

/** What HAProxy runs, typed. */
export interface HAProxyModel {
  /**
   * Everything the template renders from except servers, one string per
   * route, listener and pool backend: two models with the same structure
   * render the same file but for the `server` lines (for a template
   * {@link templateFit} accepts). A route kept between updates keeps its
   * string, so comparing two structures is cheap.
   */
  readonly structure: readonly string[];
  /** Servers by backend, then by name. */
  readonly backends: ReadonlyMap<string, ReadonlyMap<string, ServerSpec>>;
  /**
   * The model this one was made from, and the only backends whose servers
   * may differ from it; absent when not known.
   */
  readonly changed?: {
    readonly from: HAProxyModel;
    readonly backends: ReadonlySet<string>;
    /** The only places where the structure may differ from `from`'s. */
    readonly structure: readonly number[];
  };
}

/**
 * Structure keys of routes: a route object is built once per change of its
 * containers, so most updates find most of their routes here.
 */
const routeKeys = new WeakMap<HttpRoute | TcpRoute, string>();

/** A route's structure key, `kind` first. */
function routeKey(route: HttpRoute | TcpRoute, kind: string): string {
  let key = routeKeys.get(route);
  if (key === undefined) {
    const { servers: _, ...rest } = route;
    key = `${kind} ${JSON.stringify(rest)}`;
    routeKeys.set(route, key);
  }
  return key;
}

function specOf(server: Server): ServerSpec {
  return {
    address: server.address,
    port: server.port,
    weight: server.draining ? 0 : server.weight,
    maxconn: server.maxconn,
    ...(server.proxy === undefined ? {} : { options: server.proxy }),
  };
}

/** Server specs by servers array: a route kept between updates keeps its array. */
const specs = new WeakMap<readonly Server[], ReadonlyMap<string, ServerSpec>>();

function serversOf(
  servers: readonly Server[],
): ReadonlyMap<string, ServerSpec> {
  let known = specs.get(servers);
  if (known === undefined) {
    known = new Map(servers.map((server) => [server.name, specOf(server)]));
    specs.set(servers, known);
  }
  return known;
}

const NO_SERVERS: readonly Server[] = [];

/** The backends that hold servers: unmapped routes, pool slots and TCP routes. */
function* backendsOf(
  table: RenderInput,
): Generator<readonly [string, readonly Server[]]> {
  for (const route of table.routes) {
    if (route.mapped !== true) yield [route.backend, route.servers];
  }
  for (const slot of table.pool ?? []) {
    yield [slot.backend, slot.route?.servers ?? NO_SERVERS];
  }
  for (const route of table.tcpRoutes) yield [route.backend, route.servers];
}

/**
 * A pool backend's part of the structure: what its section renders to but
 * for servers (from a small rendering of that slot alone), as a number
 * that stands for that text. A host taking a spare slot is no structural
 * change as long as its backend renders like the spare's (the built-in
 * template: same balance, check and persistence), whatever the template.
 */
export type SlotShape = (slot: PoolSlot) => string;

/** A pool backend and the route it serves, if any. */
export type PoolSlot = NonNullable<RenderInput["pool"]>[number];

/** A table and its model, to build the next model from. */
export interface Modelled {
  /** The table. */
  readonly table: RenderInput;
  /** Its model. */
  readonly model: HAProxyModel;
}

/**
 * The typed state of a table as the engine renders it. Given the last
 * table and its model, the pool backends whose slot entry is the same
 * object keep their part: when only pool slots changed (a host joining,
 * leaving or changing servers), the model costs those slots, not the table.
 */
export function modelOf(
  table: RenderInput,
  slotShape: SlotShape,
  previous?: Modelled,
): HAProxyModel {
  const cert = `cert ${table.defaultCert ?? ""}`;
  const unmapped: HttpRoute[] = [];
  // With per-port frontends, each port of a route has a frontend.
  const ports = new Set<number>();
  for (const route of table.routes) {
    // A mapped route is rendered through its pool slot.
    if (route.mapped !== true) unmapped.push(route);
    if (route.listen !== undefined) ports.add(route.listen);
  }
  // Terminated hosts under a passthrough wildcard are rules of the SNI
  // frontend: one joining or leaving is a structural change.
  const portsPart = `ports ${[...ports].sort((a, b) => a - b).join(",")} ${
    guardedHosts(table.routes, table.tcpRoutes).join(",")
  }`;
  const pool = table.pool ?? [];
  const kept = previous === undefined
    ? null
    : slotsOnly(previous, table, unmapped, cert, portsPart);
  if (kept !== null) {
    const structure = kept.model.structure.slice();
    const changes = new Map<string, ReadonlyMap<string, ServerSpec>>();
    const places: number[] = [];
    const offset = structure.length - pool.length;
    pool.forEach((slot, i) => {
      if (slot === kept.pool[i]) return;
      structure[offset + i] = slotShape(slot);
      places.push(offset + i);
      changes.set(slot.backend, serversOf(slot.route?.servers ?? NO_SERVERS));
    });
    // Not a copy of every backend: the slots' servers over the last ones.
    return {
      structure,
      backends: layered(kept.model.backends, changes),
      changed: {
        from: kept.model,
        backends: new Set(changes.keys()),
        structure: places,
      },
    };
  }
  const parts: string[] = [cert];
  for (const route of unmapped) parts.push(routeKey(route, "http"));
  parts.push(portsPart);
  for (const route of table.tcpRoutes) parts.push(routeKey(route, "tcp"));
  for (const slot of pool) parts.push(slotShape(slot));
  const backends = new Map<string, ReadonlyMap<string, ServerSpec>>();
  for (const [backend, servers] of backendsOf(table)) {
    backends.set(backend, serversOf(servers));
  }
  return { structure: parts, backends };
}

/**
 * The last model and pool, when all but pool slots is as it was (the
 * same route objects, TCP routes, ports and certificate, as many slots).
 */
function slotsOnly(
  previous: Modelled,
  table: RenderInput,
  unmapped: readonly HttpRoute[],
  cert: string,
  portsPart: string,
): { model: HAProxyModel; pool: NonNullable<RenderInput["pool"]> } | null {
  const { structure } = previous.model;
  const pool = previous.table.pool ?? [];
  const now = table.pool ?? [];
  const tcp = table.tcpRoutes;
  if (
    pool.length !== now.length || structure[0] !== cert ||
    structure.length !== 2 + unmapped.length + tcp.length + pool.length ||
    structure[1 + unmapped.length] !== portsPart ||
    previous.table.tcpRoutes.length !== tcp.length
  ) return null;
  const before = previous.table.routes.filter((route) => route.mapped !== true);
  if (
    before.length !== unmapped.length ||
    before.some((route, i) => route !== unmapped[i]) ||
    previous.table.tcpRoutes.some((route, i) => route !== tcp[i])
  ) return null;
  return { model: previous.model, pool };
}

/**
 * The {@link SlotShape} of a renderer: each distinct slot (backend name
 * and route without servers) is rendered once and remembered.
 */
export function slotShapes(
  render: (table: RenderInput) => string,
  skeleton: (text: string) => readonly string[],
): SlotShape {
  const known = new Map<string, string>();
  const ids = new Map<string, string>();
  // A slot's route kept between updates finds its part here.
  const byRoute = new WeakMap<HttpRoute, readonly [string, string]>();
  const spares = new Map<string, string>();
  return (slot) => {
    const kept = slot.route === null
      ? spares.get(slot.backend)
      : byRoute.get(slot.route)?.[0] === slot.backend
      ? byRoute.get(slot.route)?.[1]
      : undefined;
    if (kept !== undefined) return kept;
    const route = slot.route === null
      ? null
      : { ...slot.route, servers: [] as const };
    const key = `${slot.backend} ${
      slot.route === null ? "" : routeKey(slot.route, "http")
    }`;
    let shape = known.get(key);
    if (shape === undefined) {
      const text = render({
        routes: route === null ? [] : [route],
        tcpRoutes: [],
        pool: [{ backend: slot.backend, route }],
      });
      // The slot's backend section; templateFit checks at start that a
      // host in a pool slot changes nothing else.
      const prefix = `${slot.backend}\t`;
      const own = skeleton(text).filter((line) => line.startsWith(prefix))
        .map((line) => line.slice(prefix.length)).join("\n");
      shape = ids.get(own);
      if (shape === undefined) {
        shape = String(ids.size);
        ids.set(own, shape);
      }
      // Parked and spare slots come and go; a bound keeps this small.
      if (known.size > 100_000) known.clear();
      known.set(key, shape);
    }
    const part = `pool ${slot.backend} ${shape}`;
    if (slot.route === null) spares.set(slot.backend, part);
    else byRoute.set(slot.route, [slot.backend, part]);
    return part;
  };
}

/**
 * The part of `table` that renders the backends named: what the template
 * makes of their `server` lines is read from this small rendering, not
 * from the whole file.
 */
export function tableOf(
  table: RenderInput,
  backends: ReadonlySet<string>,
): RenderInput {
  const pool = table.pool;
  // Pool backends are found by their slot number: the routes and the pool
  // are looked through only for a backend that is not found so.
  const slots: number[] = [];
  for (const backend of backends) {
    const slot = poolSlotOf(backend);
    if (slot === undefined || pool?.[slot - 1]?.backend !== backend) break;
    slots.push(slot);
  }
  const found = slots.length === backends.size;
  return {
    routes: found
      ? []
      : table.routes.filter((route) =>
        route.mapped !== true && backends.has(route.backend)
      ),
    tcpRoutes: table.tcpRoutes.filter((route) => backends.has(route.backend)),
    ...(pool === undefined ? {} : {
      pool: found
        ? slots.sort((a, b) => a - b).map((slot) => pool[slot - 1]!)
        : pool.filter((slot) => backends.has(slot.backend)),
    }),
    ...(table.defaultCert === undefined
      ? {}
      : { defaultCert: table.defaultCert }),
  };
}

/**
 * What differs between two structures, in a few words for the reload's
 * log line: the first route added, removed or changed.
 */
export function describeChange(
  before: readonly string[],
  after: readonly string[],
): string {
  const old = new Set(before);
  const now = new Set(after);
  const added = [...now].find((line) => !old.has(line));
  const removed = [...old].find((line) => !now.has(line));
  const name = (line: string | undefined) => {
    if (line === undefined) return "";
    const [kind, ...rest] = line.split(" ");
    if (kind === "cert") return "the default certificate";
    if (kind === "ports") return "the per-port frontends";
    if (kind === "pool") {
      return `pool backend ${rest[0]} (its route's settings)`;
    }
    try {
      const route = JSON.parse(rest.join(" ")) as { backend?: string };
      return `${kind === "tcp" ? "TCP" : "HTTP"} route ${route.backend ?? ""}`;
    } catch {
      return "a route";
    }
  };
  if (added !== undefined && removed !== undefined) {
    const [a, r] = [name(added), name(removed)];
    return a === r ? `${a} changed` : `${a} added, ${r} removed`;
  }
  if (added !== undefined) return `${name(added)} added`;
  if (removed !== undefined) return `${name(removed)} removed`;
  return "the order of routes changed";
}
