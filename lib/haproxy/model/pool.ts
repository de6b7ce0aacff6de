/**
 * Backends for new hosts without a reload. HAProxy 2.6 cannot add a backend
 * at runtime, so the configuration carries a pool of backends, some of them
 * empty; a route for a plain host name (no path prefix, no wildcard) takes a
 * pool backend and is found through a host map that the runtime API can
 * change. Pure: the caller keeps the assignment between updates.
 *
 * @module
 */

import type { HttpRoute, RouteTable } from "../../routing/route_types.ts";
import { hasOptions } from "../../routing/route_settings.ts";

/** Which pool backend serves which host, and how many pool backends there are. */
export interface PoolAssignment {
  /** Pool slot (1-based) by host map key ({@link poolKey}), for hosts routed now and parked ones. */
  readonly slots: ReadonlyMap<string, number>;
  /**
   * Slots of hosts that are not routed now, with their last route (no
   * servers): the backend keeps that route's settings, so the host coming
   * back (a redeploy) changes servers and map entries only.
   */
  readonly parked: ReadonlyMap<number, HttpRoute>;
  /** Pool backends in the configuration, used or not. */
  readonly size: number;
  /** The routes served from each slot now, to park when their host goes. */
  readonly routes?: ReadonlyMap<number, HttpRoute>;
  /** The host maps of the last assignment. */
  readonly maps?: HostMaps;
}

/** `entries`, or `previous` when it holds the same entries. */
function same(
  entries: MapEntries,
  previous: MapEntries | undefined,
): MapEntries {
  if (previous === undefined || previous.length !== entries.length) {
    return entries;
  }
  return entries.every(([k, v], i) =>
      previous[i]![0] === k && previous[i]![1] === v
    )
    ? previous
    : entries;
}

/** No hosts, no pool yet. */
export const EMPTY_POOL: PoolAssignment = {
  slots: new Map(),
  parked: new Map(),
  size: 0,
};

/**
 * Spare pool backends made when the pool grows: at least this many, or a
 * quarter of the hosts, whichever is more. 64 covers a storm of 50 new hosts
 * without a reload; each empty backend costs HAProxy a few KB.
 */
export const POOL_SPARE = 64;

/** Name of the pool backend in `slot`. */
export function poolBackend(slot: number): string {
  return `hosts_${slot}`;
}

/** The slot a pool backend's name stands for, if it is one. */
export function poolSlotOf(backend: string): number | undefined {
  const slot = /^hosts_([1-9][0-9]*)$/.exec(backend)?.[1];
  return slot === undefined ? undefined : Number(slot);
}

/** Map entries: key and value, sorted by key. */
export type MapEntries = readonly (readonly [string, string])[];

/** The host maps of a pooled table, each host to its pool backend. */
export interface HostMaps {
  /** Hosts the HTTP frontend serves. */
  readonly http: MapEntries;
  /** Hosts the HTTPS frontend serves (`tls`). */
  readonly https: MapEntries;
  /** Hosts whose plain-HTTP requests are redirected to HTTPS (`redirect_https`). */
  readonly redirect: MapEntries;
}

/** A route table whose plain-host routes are served through the host maps. */
export interface PooledTable extends RouteTable {
  /** Every pool backend in slot order: the route it serves, or none (spare). */
  readonly pool: readonly { backend: string; route: HttpRoute | null }[];
  /** Host map entries, by frontend. */
  readonly maps: HostMaps;
}

/**
 * Whether a route can be served through the host map. With per-port
 * frontends a route on HTTPS is not: the HTTPS frontend serves every port's
 * routes, and its maps are keyed by host alone. Nor is a route with options
 * (authentication, limits, headers ...): it has rules of its own.
 */
export function isPlainHost(route: HttpRoute): boolean {
  return route.host !== "" && !route.host.startsWith("*.") &&
    route.prefix === "" && !hasOptions(route.settings) &&
    (route.listen === undefined ||
      (!route.settings.tls && !route.settings.redirectHttps));
}

/**
 * A plain-host route's key in the host maps: its host, or with per-port
 * frontends `host:port`, which is what each frontend looks up (one map
 * serves every port).
 */
export function poolKey(route: HttpRoute): string {
  return route.listen === undefined
    ? route.host
    : `${route.host}:${route.listen}`;
}

/** A route's copy in a pool backend, kept while the route and its backend are the same. */
const pooledCopies = new WeakMap<HttpRoute, HttpRoute>();

/** The pooled copy of `route` in `backend`: one object while both stay the same. */
export function pooledCopy(route: HttpRoute, backend: string): HttpRoute {
  const known = pooledCopies.get(route);
  if (known?.backend === backend) return known;
  const copy = { ...route, backend, mapped: true };
  pooledCopies.set(route, copy);
  return copy;
}

function withoutServers(route: HttpRoute | undefined): HttpRoute | undefined {
  return route === undefined ? undefined : { ...route, servers: [] };
}

/**
 * Gives every plain-host route a pool backend: the one it had in `previous`
 * if it had one, else the lowest slot that is free, else the lowest slot
 * of a parked host. A host that goes keeps its slot, parked, with its
 * route's settings, until another host needs the slot. The pool never
 * shrinks while the process runs (that would be a structural change); it
 * grows, to leave at least {@link POOL_SPARE} spares, only when the hosts
 * outgrow it.
 */
export function assignPool(
  table: RouteTable,
  previous: PoolAssignment,
): { table: PooledTable; assignment: PoolAssignment } {
  const plain = table.routes.filter(isPlainHost);
  const current = new Set(plain.map(poolKey));
  const slots = new Map<string, number>();
  const taken = new Set<number>();
  for (const key of current) {
    const slot = previous.slots.get(key);
    if (slot !== undefined && slot <= previous.size) {
      slots.set(key, slot);
      taken.add(slot);
    }
  }
  let size = previous.size;
  if (plain.length > size || size === 0) {
    size = plain.length +
      Math.max(POOL_SPARE, Math.ceil(plain.length / 4));
  }
  // Hosts that went: parked in their slot, with their last route.
  const parked = new Map<number, { host: string; route: HttpRoute }>();
  for (const [host, slot] of previous.slots) {
    if (current.has(host) || slot > size) continue;
    // A route parked before is kept as it was: the same object.
    const route = previous.parked.get(slot) ??
      withoutServers(previous.routes?.get(slot));
    if (route !== undefined) parked.set(slot, { host, route });
  }
  let free = 1;
  const parkedOrder = [...parked.keys()].sort((a, b) => a - b);
  for (const route of plain) {
    if (slots.has(poolKey(route))) continue;
    while (free <= size && (taken.has(free) || parked.has(free))) free++;
    let slot = free;
    if (slot > size) {
      // No free slot: the lowest parked one is given up.
      slot = parkedOrder.find((n) => !taken.has(n)) ?? ++size;
      parked.delete(slot);
    }
    slots.set(poolKey(route), slot);
    taken.add(slot);
  }
  const bySlot = new Map<number, HttpRoute>();
  const routes = table.routes.map((route) => {
    if (!isPlainHost(route)) return route;
    const slot = slots.get(poolKey(route));
    if (slot === undefined) return route;
    const pooled = pooledCopy(route, poolBackend(slot));
    bySlot.set(slot, pooled);
    return pooled;
  });
  const pool = Array.from({ length: size }, (_, i) => ({
    backend: poolBackend(i + 1),
    route: bySlot.get(i + 1) ?? parked.get(i + 1)?.route ?? null,
  }));
  const pooled = [...bySlot.values()].map((route) =>
    [poolKey(route), route] as const
  ).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0);
  const entries = (keep: (route: HttpRoute) => boolean) =>
    pooled.filter(([, route]) => keep(route)).map(([key, route]) =>
      [key, route.backend] as const
    );
  // Entries equal to the last ones are those arrays: the planner then
  // skips comparing maps that did not change.
  const was = previous.maps;
  const maps: HostMaps = {
    http: same(entries((route) => !route.settings.redirectHttps), was?.http),
    https: same(entries((route) => route.settings.tls), was?.https),
    redirect: same(
      entries((route) => route.settings.redirectHttps),
      was?.redirect,
    ),
  };
  const kept = new Map(slots);
  const parkedRoutes = new Map<number, HttpRoute>();
  for (const [slot, { host, route }] of parked) {
    kept.set(host, slot);
    parkedRoutes.set(slot, route);
  }
  return {
    table: { ...table, routes, pool, maps },
    assignment: {
      slots: kept,
      parked: parkedRoutes,
      size,
      routes: bySlot,
      maps,
    },
  };
}

/** Map texts by entries: the entries of a map that did not change are the same array. */
const mapTexts = new WeakMap<MapEntries, string>();

/** A map file's text: one `key value` line per entry, sorted by key. */
export function mapText(entries: MapEntries): string {
  let text = mapTexts.get(entries);
  if (text === undefined) {
    // The pool keeps them sorted: sorted again only when they are not.
    const sorted = entries.every((entry, i) =>
        i === 0 || entries[i - 1]![0] < entry[0]
      )
      ? entries
      : [...entries].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0);
    text = sorted.map(([host, backend]) => `${host} ${backend}\n`).join("");
    mapTexts.set(entries, text);
  }
  return text;
}

/** Parses a map file's text: `key value` lines; blank lines and comments skipped. */
export function parseMapText(text: string): [string, string][] {
  const out: [string, string][] = [];
  for (const line of text.split("\n")) {
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#")) continue;
    const [key, value] = trimmed.split(/\s+/);
    if (key !== undefined && value !== undefined) out.push([key, value]);
  }
  return out;
}

/**
 * The pool an installed configuration uses, from its text and its host
 * maps, so a single run (`-1`) keeps every host in the slot it has rather
 * than dealing the slots out anew. Hosts parked by the process that wrote
 * it are not in the maps: their slots count as free.
 */
export function seedPool(
  installed: string,
  maps: readonly MapEntries[],
): PoolAssignment {
  let size = 0;
  for (const match of installed.matchAll(/^backend hosts_([0-9]+)\s*$/gm)) {
    size = Math.max(size, Number(match[1]));
  }
  const slots = new Map<string, number>();
  for (const entries of maps) {
    for (const [host, backend] of entries) {
      const slot = /^hosts_([0-9]+)$/.exec(backend)?.[1];
      if (slot !== undefined && Number(slot) <= size) {
        slots.set(host, Number(slot));
      }
    }
  }
  return { slots, parked: new Map(), size };
}
