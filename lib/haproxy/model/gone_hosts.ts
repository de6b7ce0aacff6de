/**
 * Hosts whose site is down rather than missing: those that lost their last
 * route a short while ago (their containers stopped, were paused, went
 * unhealthy or were removed), and those claimed by running containers that
 * serve nothing yet (a health check not passed). A request for such a host
 * is answered 503 (no server is up), not 404 (no such site): a redeploy
 * that removes a container before its successor starts, or a container
 * stopped for maintenance, is not a missing site to clients and caches. A
 * host gone is kept for an hour. Kept from the route changes of each
 * update; pure.
 *
 * @module
 */

import type { HttpRoute } from "../../routing/route_types.ts";
import type { RouteChanges } from "../../routing/routes.ts";
import type { HostMap } from "../plan/plan_types.ts";
import { isExactHost } from "../../routing/labels.ts";

/** How long a host that lost its last route answers 503 rather than 404. */
export const GONE_MS = 60 * 60 * 1000;

const NONE: ReadonlySet<string> = new Set();

/** A route's host, if a request can be looked up by it (isExactHost). */
function hostOf(route: HttpRoute): string | null {
  return isExactHost(route.host) ? route.host : null;
}

/** The hosts that lost their routes, update by update. */
export class GoneHosts {
  /** Routes per host now. */
  #routed = new Map<string, number>();
  /** Hosts without a route, and until when they are kept. */
  readonly #gone = new Map<string, number>();
  #entries: HostMap = [];
  #idle: ReadonlySet<string> = NONE;
  #dirty = false;
  readonly #keepMs: number;

  constructor(keepMs = GONE_MS) {
    this.#keepMs = keepMs;
  }

  /**
   * Takes one update's routes: with `changes`, only those; without, the
   * whole table is compared with the last. `idle`: the hosts of running
   * containers that serve nothing yet.
   */
  update(
    routes: readonly HttpRoute[],
    changes: RouteChanges | null,
    now: number,
    idle: ReadonlySet<string> = NONE,
  ): void {
    if (idle !== this.#idle) {
      this.#idle = idle;
      this.#dirty = true;
    }
    if (changes === null) {
      const counts = new Map<string, number>();
      for (const route of routes) {
        const host = hostOf(route);
        if (host !== null) counts.set(host, (counts.get(host) ?? 0) + 1);
      }
      for (const host of this.#routed.keys()) {
        if (!counts.has(host)) this.#lose(host, now);
      }
      for (const host of counts.keys()) this.#find(host);
      this.#routed = counts;
    } else {
      for (const route of changes.removed) {
        const host = hostOf(route);
        if (host === null) continue;
        const left = (this.#routed.get(host) ?? 1) - 1;
        if (left > 0) this.#routed.set(host, left);
        else {
          this.#routed.delete(host);
          this.#lose(host, now);
        }
      }
      for (const route of changes.added) {
        const host = hostOf(route);
        if (host === null) continue;
        this.#routed.set(host, (this.#routed.get(host) ?? 0) + 1);
        this.#find(host);
      }
    }
    for (const [host, until] of this.#gone) {
      if (until <= now) {
        this.#gone.delete(host);
        this.#dirty = true;
      }
    }
  }

  /**
   * Takes the hosts an earlier run had in its map as gone from `now`: a
   * restart does not turn a site down into a missing one. A host the next
   * update routes is found again.
   */
  seed(hosts: readonly string[], now: number): void {
    for (const host of hosts) {
      if (!this.#routed.has(host)) this.#lose(host, now);
    }
  }

  /** The map entries: each host gone or idle, sorted. */
  get entries(): HostMap {
    if (this.#dirty) {
      this.#entries = [...new Set([...this.#gone.keys(), ...this.#idle])]
        .sort().map((host) => [host, "down"] as const);
      this.#dirty = false;
    }
    return this.#entries;
  }

  /** When the first gone host is to be forgotten, epoch ms. */
  get recheckAt(): number | undefined {
    let first: number | undefined;
    for (const until of this.#gone.values()) {
      first = Math.min(first ?? until, until);
    }
    return first;
  }

  #lose(host: string, now: number): void {
    this.#gone.set(host, now + this.#keepMs);
    this.#dirty = true;
  }

  #find(host: string): void {
    if (this.#gone.delete(host)) this.#dirty = true;
  }
}
