/**
 * The pool assignment (pool.ts) kept up to date route by route: when the
 * route builder says which routes left and joined the table, only their
 * hosts' slots, pool backends and map entries change, and the rest of the
 * last assignment is reused. The result is the one assignPool gives from
 * the last assignment; a property test holds the two together. Anything
 * else (the first table, a table whose changes are not known, a pool that
 * must grow) goes through assignPool whole.
 *
 * @module
 */

import { lowerBound } from "../../util/arrays.ts";
import type { PoolSlot } from "./model.ts";
import { byMatchOrder } from "../../routing/route_groups.ts";
import type { RouteChanges } from "../../routing/routes.ts";
import type { HttpRoute, RouteTable } from "../../routing/route_types.ts";
import {
  assignPool,
  EMPTY_POOL,
  type HostMaps,
  isPlainHost,
  type MapEntries,
  type PoolAssignment,
  poolBackend,
  pooledCopy,
  type PooledTable,
  poolKey,
} from "./pool.ts";

/** The last assignment and what finds its parts without a pass over all. */
interface State {
  pooled: PooledTable;
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
  readonly size: number;
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
   * when not known (it went through assignPool).
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
    const state = this.#state;
    if (state !== null && changes !== null) {
      // The last pooled routes, before edit replaces them.
      const from = state.pooled.routes;
      const edited = edit(state, table, changes);
      if (edited !== null) {
        this.#assignment = edited.assignment;
        this.#changes = edited.changes === null
          ? null
          : { from, ...edited.changes };
        return state.pooled;
      }
    }
    this.#changes = null;
    const whole = assignPool(table, this.#assignment);
    this.#assignment = whole.assignment;
    this.#state = stateOf(table, whole.table, whole.assignment);
    return whole.table;
  }
}

function stateOf(
  table: RouteTable,
  pooled: PooledTable,
  assignment: PoolAssignment,
): State {
  const copies = new Map<HttpRoute, HttpRoute>();
  table.routes.forEach((route, i) => {
    const copy = pooled.routes[i]!;
    if (copy !== route) copies.set(route, copy);
  });
  return {
    pooled,
    slots: new Map(assignment.slots),
    parked: new Map(assignment.parked),
    bySlot: new Map(assignment.routes ?? []),
    copies,
    size: assignment.size,
    free: 1,
  };
}

/**
 * The assignment after `changes`, `state` brought up to date with it; or
 * null, `state` untouched, when it needs the whole pass.
 */
function edit(
  state: State,
  table: RouteTable,
  changes: RouteChanges,
): {
  assignment: PoolAssignment;
  changes: Omit<RouteChanges, "from"> | null;
} | null {
  const removed = changes.removed.filter((route) => state.copies.has(route));
  const added = changes.added.filter(isPlainHost).sort(byMatchOrder);
  const routed = state.bySlot.size - removed.length + added.length;
  // A pool that grows renders anew anyway: the whole pass decides.
  if (routed > state.size) return null;
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
  // Hosts that keep or get back their slot first, as assignPool does.
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
  const edited = spliced(state.pooled.routes, changes, copies);
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
