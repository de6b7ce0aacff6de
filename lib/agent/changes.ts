/**
 * What the agent does with one container's pending events: bring the
 * inventory up to date (an inspect, or none where an inspect could only
 * mislead), then hand the events to the handlers that need the inventory;
 * and the second looks some events need later.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { Inventory } from "../docker/inventory.ts";
import type { PendingChange } from "../docker/pending.ts";
import type { Dispatcher } from "./dispatcher.ts";
import { NONE } from "./handler_ini.ts";
import type { SecondLooks } from "./second_looks.ts";

const log = getLogger(["docker-glue", "agent"]);

/**
 * A container still running this long after its stop timeout ignored the
 * terminating signal (`docker kill -s TERM` to a PID 1 without a handler):
 * its drain ends. Docker's own default stop timeout is 10 s.
 */
const STOP_GRACE_MS = 5000;
const DEFAULT_STOP_TIMEOUT_S = 10;

/** The parts of the agent a change goes through. */
export interface ChangeContext {
  /** Running containers. */
  readonly inventory: Inventory;
  /** The handlers' queues. */
  readonly dispatcher: Dispatcher;
  /** Containers to look at again later. */
  readonly looks: SecondLooks;
}

/**
 * Brings the inventory up to date for one container's pending events,
 * then dispatches each of them.
 */
export async function applyChange(
  agent: ChangeContext,
  change: PendingChange,
): Promise<boolean> {
  const wanted = change.actions.filter((action) =>
    agent.dispatcher.wants(action, "late")
  );
  if (wanted.length === 0) return false;
  const healthBefore = agent.inventory.get(change.id)?.health;
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
    if (agent.inventory.get(id) === undefined) return false;
    await agent.inventory.refresh(id);
  } else if (last === "destroy") agent.inventory.forget(id);
  else if (change.terminating) {
    // No inspect: it would say "running", and every millisecond counts
    // before the process goes.
    agent.inventory.markStopping(id);
    const timeout = agent.inventory.get(id)?.stopTimeout ??
      DEFAULT_STOP_TIMEOUT_S;
    agent.looks.stopping(id, Date.now() + timeout * 1000 + STOP_GRACE_MS);
  } else await agent.inventory.refresh(id);
  for (const action of wanted) {
    void agent.dispatcher.dispatch(action, id, "late");
  }
  // Podman sends a health event before inspect shows the new status (its
  // event even carries the old one): when nothing changed, look again.
  return change.actions.includes("health_status") &&
    agent.inventory.get(id)?.health === healthBefore;
}

/**
 * Inspects a container marked stopping whose stop timeout has passed: if
 * it still runs, it ignored the signal, and is routed again.
 */
export async function recheckStopping(
  agent: ChangeContext,
  id: string,
): Promise<void> {
  if (agent.inventory.get(id)?.stopping !== true) return;
  const record = await agent.inventory.refresh(id, "recheck");
  if (record === null) return;
  log.info(
    "Container {container}: still running {seconds} s after a terminating signal it ignored; no longer stopping",
    {
      container: record.name,
      seconds: (record.stopTimeout ?? DEFAULT_STOP_TIMEOUT_S) +
        STOP_GRACE_MS / 1000,
    },
  );
  void agent.dispatcher.dispatch(NONE, "");
}

/**
 * Inspects a container again after a health event that showed no
 * change; dispatches `health_status` once the status has changed.
 * Returns whether it has (or the container is gone).
 */
export async function recheckHealth(
  agent: ChangeContext,
  id: string,
): Promise<boolean> {
  const before = agent.inventory.get(id)?.health;
  if (before === undefined) return true;
  const record = await agent.inventory.refresh(id);
  if (record !== null && record.health === before) return false;
  log.debug("Health of container {id} is {health} on a second look", {
    id: id.slice(0, 12),
    health: record?.health ?? "gone",
  });
  void agent.dispatcher.dispatch("health_status", id);
  return true;
}
