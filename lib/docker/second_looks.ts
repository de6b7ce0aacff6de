/**
 * When the agent inspects a container again without an event: after a
 * health event that inspect did not show yet (Podman sends it early), and
 * when a container marked stopping outlived its stop timeout (it ignored
 * the signal). Pure bookkeeping of times; the agent does the looking.
 *
 * @module
 */

/** After a health event that inspect does not show yet, look again after these delays. */
export const HEALTH_RECHECK_MS: readonly number[] = [250, 1000, 3000];

/** One look that is due. */
export interface Look {
  /** Why: a health event, or a stop that has not come. */
  readonly kind: "health" | "stopping";
  /** The container. */
  readonly id: string;
}

/** The second looks the agent owes, by container. */
export class SecondLooks {
  readonly #health = new Map<string, number[]>();
  readonly #stopping = new Map<string, number>();

  /** Looks again at `id`'s health after each of {@link HEALTH_RECHECK_MS}. */
  health(id: string, now: number): void {
    this.#health.set(id, HEALTH_RECHECK_MS.map((ms) => now + ms));
  }

  /** Looks whether `id` still runs at `at` (ms since the epoch). */
  stopping(id: string, at: number): void {
    this.#stopping.set(id, at);
  }

  /** No more health looks at `id`: its change has been seen. */
  settled(id: string): void {
    this.#health.delete(id);
  }

  /** The first look due at `now`, taken off the schedule. */
  take(now: number): Look | undefined {
    for (const [id, times] of this.#health) {
      if ((times[0] ?? Infinity) > now) continue;
      times.shift();
      if (times.length === 0) this.#health.delete(id);
      return { kind: "health", id };
    }
    for (const [id, at] of this.#stopping) {
      if (at > now) continue;
      this.#stopping.delete(id);
      return { kind: "stopping", id };
    }
    return undefined;
  }

  /** Milliseconds from `now` to the next look; Infinity when none is owed. */
  wait(now: number): number {
    return Math.min(
      ...[...this.#health.values()].map((times) => (times[0] ?? now) - now),
      ...[...this.#stopping.values()].map((at) => at - now),
    );
  }
}
