/**
 * The host pool's names, keys and maps: which routes are served from a
 * pool backend, the backend of each slot, a map file's text, and the pool
 * an installed configuration uses. The assignment itself is host_pool.ts.
 *
 * @module
 */

import type { HttpRoute, RouteTable } from "../../routing/route_types.ts";
import { hasOptions } from "../../routing/route_settings.ts";
import { isExactHost } from "../../routing/labels.ts";

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
  let plain = plainRoutes.get(route);
  if (plain === undefined) {
    plain = isExactHost(route.host) && route.prefix === "" &&
      route.match === undefined &&
      !hasOptions(route.settings) &&
      (route.listen === undefined ||
        (!route.settings.tls && !route.settings.redirectHttps));
    plainRoutes.set(route, plain);
  }
  return plain;
}

/** {@link isPlainHost} of each route asked about: routes are never changed, and options are compared as text. */
const plainRoutes = new WeakMap<HttpRoute, boolean>();

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
