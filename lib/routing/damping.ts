/**
 * Crash-loop damping: a container that its restart policy keeps restarting
 * is left out of the routes until it has stayed up for a while, so a
 * container exiting every second does not make HAProxy reload every second.
 *
 * @module
 */

import type { ContainerRecord } from "../docker/container.ts";

/** How long a restarted container must run before it is routed again. */
export const SETTLE_MS = 30_000;

/** Which containers are damped now, and when to look again. */
export interface Damping {
  /** Ids of damped containers. */
  readonly damped: ReadonlySet<string>;
  /** The earliest time (ms since the epoch) a damped container settles, if any. */
  readonly recheckAt: number | undefined;
}

/** Whether a container may be damped: running, restarted by its policy. */
export function restarted(container: ContainerRecord): boolean {
  return container.restartCount !== 0 && container.running;
}

/**
 * A container is damped while it was restarted by its restart policy
 * (`RestartCount > 0`) and its current run is younger than `settleMs`. A
 * container that was never restarted, or has run long enough, is not.
 */
export function damping(
  containers: readonly ContainerRecord[],
  now: number,
  settleMs = SETTLE_MS,
): Damping {
  const damped = new Set<string>();
  let recheckAt: number | undefined;
  for (const container of containers) {
    if (!restarted(container)) continue;
    const started = Date.parse(container.startedAt);
    if (Number.isNaN(started)) continue;
    const settles = started + settleMs;
    if (settles > now) {
      damped.add(container.id);
      recheckAt = Math.min(recheckAt ?? settles, settles);
    }
  }
  return { damped, recheckAt };
}
