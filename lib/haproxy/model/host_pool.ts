/**
 * Backends for new hosts without a reload, assigned route by route. HAProxy
 * 2.6 cannot add a backend at runtime, so the configuration carries a pool
 * of backends, some of them empty; a route for a plain host name (no path
 * prefix, no wildcard) takes a pool backend and is found through a host map
 * that the runtime API can change (pool.ts has the names and maps).
 *
 * Every plain-host route gets the pool backend it had if it had one, else
 * the lowest slot that is free, else the lowest slot of a parked host. A
 * host that goes keeps its slot, parked, with its route's settings, until
 * another host needs the slot. The pool never shrinks while the process
 * runs (that would be a structural change); it grows, to leave at least
 * {@link POOL_SPARE} spares, only when the hosts outgrow it.
 *
 * One implementation: the route builder says which routes left and joined,
 * and only their hosts' slots, pool backends and map entries change. The
 * first table, or one whose changes are not known, is the same edit, with
 * every route joining (or the changes found by comparing the tables).
 *
 * @module
 */

import { lowerBound } from "../../util/arrays.ts";
import type { PoolSlot } from "./model.ts";
import { byMatchOrder } from "../../routing/route_groups.ts";
import type { RouteChanges } from "../../routing/routes.ts";
import type { HttpRoute, RouteTable } from "../../routing/route_types.ts";
import {
  EMPTY_POOL,
  type HostMaps,
  isPlainHost,
  type MapEntries,
  POOL_SPARE,
  type PoolAssignment,
  poolBackend,
  pooledCopy,
  type PooledTable,
  poolKey,
} from "./pool.ts";

/** The last assignment and what finds its parts without a pass over all. */
interface State {
  pooled: PooledTable;
  /** The table the pooled one was made from. */
  table: RouteTable;
  /** Slot by host key, for routed and parked hosts. */
  readonly slots: Map<string, number>;
  /**
   * Parked slots: the route of the host that left, without servers (its
   * poolKey is the host's).
   */
  readonly parked: Map<number, HttpRoute>;
  /** The pooled route in each slot that serves a host now. */
  readonly bySlot: Map<number, HttpRoute>;
  /** The pooled copy of each plain route of the table. */
  readonly copies: Map<HttpRoute, HttpRoute>;
  size: number;
  /** No slot below this is free (slots never become free again). */
  free: number;
}

/** Assigns pool backends update after update, redoing the hosts that changed only. */
export class HostPool {
  #state: State | null = null;
  #assignment: PoolAssignment;
  #changes: RouteChanges | null = null;

  /** Starts from `seed` (the installed file's pool for `-1`), or empty. */
  constructor(seed: PoolAssignment = EMPTY_POOL) {
    this.#assignment = seed;
  }

  /**
   * The pooled routes that left and joined in the last assign, or null
   * when not known (the first table, or the pool grew).
   */
  get changes(): RouteChanges | null {
    return this.#changes;
  }

  /** The assignment of the last table. */
  get assignment(): PoolAssignment {
    return this.#assignment;
  }

  /** Starts again from `seed`, forgetting the last assignment. */
  seed(seed: PoolAssignment): void {
    this.#state = null;
    this.#assignment = seed;
  }

  /**
   * The pooled table of `table`; `changes` are its routes that left and
   * joined since the last table given here (null when unknown).
   */
  assign(table: RouteTable, changes: RouteChanges | null): PooledTable {
    let state = this.#state;
    let known = changes;
    if (state === null) {
      state = fresh(this.#assignment, table);
      known = { from: [], removed: [], added: table.routes };
    } else if (known === null) {
      known = compared(state.table, table);
    }
    // The last pooled routes, before edit replaces them.
    const from = state.pooled.routes;
    const edited = edit(state, table, known);
    state.table = table;
    this.#state = state;
    this.#assignment = edited.assignment;
    this.#changes = changes === null || edited.grew || edited.changes === null
      ? null
      : { from, ...edited.changes };
    return state.pooled;
  }
}

/**
 * The state before any table: the slots of `seed` of the hosts `table`
 * routes, and parked slots with their routes (a host of `seed` not in
 * `table` whose route is known is parked; one whose route is not, the
 * installed file's, leaves its slot free).
 */
function fresh(seed: PoolAssignment, table: RouteTable): State {
  const current = new Set(table.routes.filter(isPlainHost).map(poolKey));
  const slots = new Map<string, number>();
  const parked = new Map<number, HttpRoute>();
  for (const [host, slot] of seed.slots) {
    if (slot > seed.size) continue;
    if (current.has(host)) {
      slots.set(host, slot);
      continue;
    }
    // A route parked before is kept as it was: the same object.
    const known = seed.parked.get(slot) ?? seed.routes?.get(slot);
    if (known === undefined) continue;
    slots.set(host, slot);
    parked.set(
      slot,
      known.servers.length === 0 ? known : {
        ...known,
        servers: [],
      },
    );
  }
  const pool = Array.from({ length: seed.size }, (_, i) => ({
    backend: poolBackend(i + 1),
    route: parked.get(i + 1) ?? null,
  }));
  return {
    pooled: {
      routes: [],
      tcpRoutes: [],
      findings: [],
      pool,
      maps: { http: [], https: [], redirect: [] },
    },
    table: { routes: [], tcpRoutes: [], findings: [] },
    slots,
    parked,
    bySlot: new Map(),
    copies: new Map(),
    size: seed.size,
    free: 1,
  };
}

/** The routes of `after` not in `before` and the reverse, as objects. */
function compared(before: RouteTable, after: RouteTable): RouteChanges {
  const was = new Set(before.routes);
  const now = new Set(after.routes);
  return {
    from: before.routes,
    removed: before.routes.filter((route) => !now.has(route)),
    added: after.routes.filter((route) => !was.has(route)),
  };
}

/**
 * Grows the pool when `routed` hosts outgrow it (or it is empty): to the
 * hosts and {@link POOL_SPARE} spares, or a quarter more, whichever is
 * more. Returns whether it grew.
 */
function grow(state: State, routed: number): boolean {
  if (routed <= state.size && state.size > 0) return false;
  const size = routed + Math.max(POOL_SPARE, Math.ceil(routed / 4));
  const pool = state.pooled.pool.slice();
  for (let slot = state.size + 1; slot <= size; slot++) {
    pool.push({ backend: poolBackend(slot), route: null });
  }
  state.pooled = { ...state.pooled, pool };
  state.size = size;
  return true;
}

/**
 * The assignment after `changes`, `state` brought up to date with it (the
 * pool grown first when the hosts outgrow it).
 */
function edit(
  state: State,
  table: RouteTable,
  changes: RouteChanges,
): {
  assignment: PoolAssignment;
  changes: Omit<RouteChanges, "from"> | null;
  grew: boolean;
} {
  const removed = changes.removed.filter((route) => state.copies.has(route));
  const added = inMatchOrder(changes.added.filter(isPlainHost));
  const grew = grow(state, state.bySlot.size - removed.length + added.length);
  // Changed in place: only the last assignment is ever read again.
  const { slots, parked, bySlot, copies } = state;
  const touched = new Set<number>();
  const entries = new Set<string>();
  const staying = new Set(added.map(poolKey));
  for (const route of removed) {
    const key = poolKey(route);
    const slot = slots.get(key)!;
    const copy = copies.get(route)!;
    copies.delete(route);
    bySlot.delete(slot);
    touched.add(slot);
    entries.add(key);
    if (!staying.has(key)) {
      parked.set(slot, { ...copy, servers: [] });
    }
  }
  let free = state.free;
  const isFree = (slot: number) => !bySlot.has(slot) && !parked.has(slot);
  const fresh: HttpRoute[] = [];
  // Hosts that keep or get back their slot first.
  for (const route of added) {
    const key = poolKey(route);
    const slot = slots.get(key);
    if (slot === undefined || slot > state.size) {
      fresh.push(route);
      continue;
    }
    parked.delete(slot);
    place(route, slot);
  }
  for (const route of fresh) {
    while (free <= state.size && !isFree(free)) free++;
    let slot = free;
    if (slot > state.size) {
      // No free slot: the lowest parked one is given up.
      slot = Math.min(...parked.keys());
      slots.delete(poolKey(parked.get(slot)!));
      parked.delete(slot);
    }
    slots.set(poolKey(route), slot);
    place(route, slot);
  }
  function place(route: HttpRoute, slot: number): void {
    const copy = pooledCopy(route, poolBackend(slot));
    copies.set(route, copy);
    bySlot.set(slot, copy);
    touched.add(slot);
    entries.add(poolKey(route));
  }
  const pool: PoolSlot[] = state.pooled.pool.slice();
  for (const slot of touched) {
    pool[slot - 1] = {
      backend: poolBackend(slot),
      route: bySlot.get(slot) ?? parked.get(slot) ?? null,
    };
  }
  const keys = [...entries];
  const was = state.pooled.maps;
  const maps: HostMaps = {
    http: mapEdit(
      was.http,
      keys,
      slots,
      bySlot,
      (r) => !r.settings.redirectHttps,
    ),
    https: mapEdit(was.https, keys, slots, bySlot, (r) => r.settings.tls),
    redirect: mapEdit(
      was.redirect,
      keys,
      slots,
      bySlot,
      (r) => r.settings.redirectHttps,
    ),
  };
  // The first table: its routes in place, not one by one.
  const edited = state.pooled.routes.length === 0
    ? null
    : spliced(state.pooled.routes, changes, copies);
  const routes = edited?.routes ??
    table.routes.map((route) => copies.get(route) ?? route);
  const pooled: PooledTable = { ...table, routes, pool, maps };
  state.pooled = pooled;
  state.free = free;
  return {
    assignment: { slots, parked, size: state.size, routes: bySlot, maps },
    changes: edited === null
      ? null
      : { removed: edited.removed, added: edited.added },
    grew,
  };
}

/**
 * The pooled routes after `changes`, from the last ones (in the same match
 * order, each route or its pooled copy): those that left taken out, those
 * that joined put in at their place, and which these were. Null when a
 * route that left is not found where it should be.
 */
function spliced(
  last: readonly HttpRoute[],
  changes: RouteChanges,
  copies: ReadonlyMap<HttpRoute, HttpRoute>,
): { routes: HttpRoute[]; removed: HttpRoute[]; added: HttpRoute[] } | null {
  const routes = last.slice();
  const removed: HttpRoute[] = [];
  const added: HttpRoute[] = [];
  for (const route of changes.removed) {
    const at = lowerBound(routes, (r) => byMatchOrder(r, route) < 0);
    const found = routes[at];
    if (found === undefined || byMatchOrder(found, route) !== 0) return null;
    removed.push(found);
    routes.splice(at, 1);
  }
  for (const route of changes.added) {
    const at = lowerBound(routes, (r) => byMatchOrder(r, route) < 0);
    const copy = copies.get(route) ?? route;
    added.push(copy);
    routes.splice(at, 0, copy);
  }
  return { routes, removed, added };
}

/**
 * `entries` with the entries of `keys` as the slots now say: each key's
 * entry taken out, and put back at its place when its host is routed and
 * `keep` takes its route. The same array when nothing changed.
 */
function mapEdit(
  entries: MapEntries,
  keys: readonly string[],
  slots: ReadonlyMap<string, number>,
  bySlot: ReadonlyMap<number, HttpRoute>,
  keep: (route: HttpRoute) => boolean,
): MapEntries {
  if (entries.length === 0) {
    // The first table: sorted once, not put in one by one.
    const out: [string, string][] = [];
    for (const key of keys) {
      const slot = slots.get(key);
      const route = slot === undefined ? undefined : bySlot.get(slot);
      if (route !== undefined && keep(route)) out.push([key, route.backend]);
    }
    return out.length === 0
      ? entries
      : out.sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0);
  }
  let out: (readonly [string, string])[] | null = null;
  for (const key of keys) {
    const list: MapEntries = out ?? entries;
    const at = lowerBound(list, ([k]) => k < key);
    const has = list[at]?.[0] === key;
    const slot = slots.get(key);
    const route = slot === undefined ? undefined : bySlot.get(slot);
    const want = route !== undefined && keep(route) ? route.backend : undefined;
    if (has && list[at]![1] === want) continue;
    if (!has && want === undefined) continue;
    out ??= entries.slice();
    if (has) out.splice(at, 1);
    if (want !== undefined) out.splice(at, 0, [key, want]);
  }
  return out ?? entries;
}

/**
 * The pooled table of `table` and its assignment, from `previous` (the
 * last assignment, a `-1` run's installed pool, or none): the host pool
 * (host_pool.ts) given the whole table.
 */
export function assignPool(
  table: RouteTable,
  previous: PoolAssignment,
): { table: PooledTable; assignment: PoolAssignment } {
  const pool = new HostPool(previous);
  return { table: pool.assign(table, null), assignment: pool.assignment };
}

/** `routes` in match order: sorted only when they are not (a whole table is). */
function inMatchOrder(routes: HttpRoute[]): HttpRoute[] {
  for (let i = 1; i < routes.length; i++) {
    if (byMatchOrder(routes[i - 1]!, routes[i]!) > 0) {
      return routes.sort(byMatchOrder);
    }
  }
  return routes;
}
