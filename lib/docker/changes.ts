/**
 * What the follower does with one container's pending events: bring the
 * inventory up to date (an inspect, or none where an inspect could only
 * mislead), then tell the listener; and the second looks some events need
 * later.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { Inventory } from "./inventory.ts";
import type { PendingChange } from "./pending.ts";
import type { FollowerListener } from "./follower.ts";
import type { SecondLooks } from "./second_looks.ts";

const log = getLogger(["docker-glue", "docker"]);

/**
 * A container still running this long after its stop timeout ignored the
 * terminating signal (`docker kill -s TERM` to a PID 1 without a handler):
 * its drain ends. Docker's own default stop timeout is 10 s.
 */
const STOP_GRACE_MS = 5000;
const DEFAULT_STOP_TIMEOUT_S = 10;

/** The parts of the follower a change goes through. */
export interface ChangeContext {
  /** Running containers. */
  readonly inventory: Inventory;
  /** Who hears of the changes. */
  readonly listener: FollowerListener;
  /** Containers to look at again later. */
  readonly looks: SecondLooks;
}

/**
 * Brings the inventory up to date for one container's pending events,
 * then tells the listener of each. Returns whether the health shown has
 * not changed after a health event (look again later).
 */
export async function applyChange(
  follower: ChangeContext,
  change: PendingChange,
): Promise<boolean> {
  const wanted = change.actions.filter((action) =>
    follower.listener.wants(action, "late")
  );
  if (wanted.length === 0) return false;
  const healthBefore = follower.inventory.get(change.id)?.health;
  const { id } = change;
  if (change.events > 1) {
    log.debug("Took {count} events for container {id} together: {actions}", {
      count: change.events,
      id: id.slice(0, 12),
      actions: change.actions.join(","),
    });
  }
  const last = change.actions[change.actions.length - 1];
  if (change.networkOnly) {
    // Docker connects a container to its networks just before `start`
    // and disconnects it after `die`: only a running container's change
    // (docker network connect/disconnect) is news.
    if (follower.inventory.get(id) === undefined) return false;
    await follower.inventory.refresh(id);
  } else if (last === "destroy") follower.inventory.forget(id);
  else if (change.terminating) {
    // No inspect: it would say "running", and every millisecond counts
    // before the process goes.
    follower.inventory.markStopping(id);
    const timeout = follower.inventory.get(id)?.stopTimeout ??
      DEFAULT_STOP_TIMEOUT_S;
    follower.looks.stopping(id, Date.now() + timeout * 1000 + STOP_GRACE_MS);
  } else await follower.inventory.refresh(id);
  for (const action of wanted) follower.listener.changed(action, id);
  // Podman sends a health event before inspect shows the new status (its
  // event even carries the old one): when nothing changed, look again.
  return change.actions.includes("health_status") &&
    follower.inventory.get(id)?.health === healthBefore;
}

/**
 * Inspects a container marked stopping whose stop timeout has passed: if
 * it still runs, it ignored the signal, and is routed again.
 */
export async function recheckStopping(
  follower: ChangeContext,
  id: string,
): Promise<void> {
  if (follower.inventory.get(id)?.stopping !== true) return;
  const record = await follower.inventory.refresh(id, "recheck");
  if (record === null) return;
  log.info(
    "Container {container}: still running {seconds} s after a terminating signal it ignored; no longer stopping",
    {
      container: record.name,
      seconds: (record.stopTimeout ?? DEFAULT_STOP_TIMEOUT_S) +
        STOP_GRACE_MS / 1000,
    },
  );
  follower.listener.resynced();
}

/**
 * Inspects a container again after a health event that showed no
 * change; tells of `health_status` once the status has changed.
 * Returns whether it has (or the container is gone).
 */
export async function recheckHealth(
  follower: ChangeContext,
  id: string,
): Promise<boolean> {
  const before = follower.inventory.get(id)?.health;
  if (before === undefined) return true;
  const record = await follower.inventory.refresh(id);
  if (record !== null && record.health === before) return false;
  log.debug("Health of container {id} is {health} on a second look", {
    id: id.slice(0, 12),
    health: record?.health ?? "gone",
  });
  follower.listener.changed("health_status", id);
  return true;
}
