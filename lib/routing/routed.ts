/**
 * The route table as the daemon keeps it: containers caught in a restart
 * loop left out (looked at again when the first of them has run long
 * enough), the routes built and kept up to date container by container,
 * and the listeners and routes HAProxy rejected left out. `routes` builds
 * it the same way, once.
 *
 * @module
 */

import {
  type ChangeJournal,
  type ContainerRecord,
  recordKey,
} from "../docker/container.ts";
import { damping, restarted } from "./damping.ts";
import type { Rejections } from "./rejections.ts";
import type { RouteOptions } from "./claims.ts";
import type { RouteTable } from "./route_types.ts";
import { RouteBuilder, type RouteChanges } from "./routes.ts";

/** One build's route table, and what was left out of it. */
export interface Routed {
  /** The table without what HAProxy rejected. */
  readonly built: RouteTable;
  /** The containers restarted by their policy, and the ids of those damped. */
  readonly looping: readonly ContainerRecord[];
  readonly damped: ReadonlySet<string>;
  /** When a damped container is to be looked at again, epoch ms. */
  readonly recheckAt: number | undefined;
  /** The HTTP routes of `built` that left and joined, when known. */
  readonly changes: RouteChanges | null;
  /** Hosts of running containers that serve no requests yet (RouteBuilder.idleHosts). */
  readonly idle: ReadonlySet<string>;
}

/** Builds the route table update after update. */
export class RoutedState {
  readonly #routes: RouteBuilder;
  readonly #rejections: Rejections;
  readonly #journal: ChangeJournal | null;
  /** The running containers restarted by their policy, by key. */
  readonly #restarted = new Map<string, ContainerRecord>();
  /** The keys of the containers damped at the last build. */
  #damped: ReadonlySet<string> = new Set();

  /**
   * With the source's `journal`, a build looks only at the containers whose
   * keys it gives; without, at every container.
   */
  constructor(
    options: RouteOptions,
    rejections: Rejections,
    journal: ChangeJournal | null,
  ) {
    this.#routes = new RouteBuilder(options);
    this.#rejections = rejections;
    this.#journal = journal;
  }

  /** The table for the containers as they are; `all` lists every one, when needed. */
  async build(
    all: () => readonly ContainerRecord[],
    now: number,
  ): Promise<Routed> {
    const { routes, looping, damped, recheckAt } = this.#routeTable(all, now);
    const built = await this.#rejections.filter(routes, all, now);
    // The builder's changes hold for its own table only.
    const changes = built === routes ? this.#routes.changes : null;
    const idle = this.#routes.idleHosts;
    return { built, looping, damped, recheckAt, changes, idle };
  }

  /** Stops the source's journal. */
  close(): void {
    this.#journal?.close();
  }

  /**
   * The route table without the containers caught in a restart loop, which
   * are looked at again when the first of them has run long enough.
   */
  #routeTable(all: () => readonly ContainerRecord[], now: number): {
    routes: RouteTable;
    looping: ContainerRecord[];
    damped: ReadonlySet<string>;
    recheckAt: number | undefined;
  } {
    const journal = this.#journal;
    const ids = journal?.take() ?? null;
    // Only a restarted container can be damped: those are kept by key.
    const candidates = this.#restarted;
    if (ids === null || journal === null) {
      candidates.clear();
      for (const c of all()) if (restarted(c)) candidates.set(recordKey(c), c);
    } else {
      for (const id of ids) {
        const container = journal.get(id);
        if (container !== undefined && restarted(container)) {
          candidates.set(id, container);
        } else candidates.delete(id);
      }
    }
    const looping = [...candidates.values()];
    const { damped, recheckAt } = damping(looping, now);
    const keys = new Set(
      [...candidates].filter(([, c]) => damped.has(c.id)).map(([key]) => key),
    );
    const before = this.#damped;
    this.#damped = keys;
    const done = (routes: RouteTable) => ({
      routes,
      looping,
      damped,
      recheckAt,
    });
    if (ids === null || journal === null) {
      return done(this.#routes.build(
        keys.size === 0 ? all() : all().filter((c) => !keys.has(recordKey(c))),
      ));
    }
    // A container damped or no longer damped changed for the routes too.
    const touched = before.size === 0 && keys.size === 0 ? ids : new Set([
      ...ids,
      ...[...before].filter((key) => !keys.has(key)),
      ...[...keys].filter((key) => !before.has(key)),
    ]);
    return done(this.#routes.update(
      touched,
      (key) => keys.has(key) ? undefined : journal.get(key),
    ));
  }
}
