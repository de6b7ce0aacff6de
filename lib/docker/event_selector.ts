/**
 * Which Docker events something wants, as an `events=` list (a handler
 * file) or `--watch-set` names them: Docker's actions, `all` and the
 * synthetic `none`.
 *
 * @module
 */

/** The synthetic event fired at start-up, after a resync, and after handlers with `triggers-none=1`. */
export const NONE = "none";

/**
 * Docker's container event actions (health events as `health_status`), and
 * `connect`/`disconnect`: a running container joined or left a network.
 */
export const CONTAINER_EVENTS: ReadonlySet<string> = new Set([
  "attach",
  "commit",
  "connect",
  "copy",
  "create",
  "destroy",
  "detach",
  "die",
  "disconnect",
  "exec_create",
  "exec_detach",
  "exec_die",
  "exec_start",
  "export",
  "health_status",
  "kill",
  "oom",
  "pause",
  "rename",
  "resize",
  "restart",
  "start",
  "stop",
  "top",
  "unpause",
  "update",
]);

/** Which events a handler wants. */
export interface EventSelector {
  /** Every real (Docker) event. */
  readonly all: boolean;
  /** The synthetic `none` event. */
  readonly none: boolean;
  /** Individual Docker actions. */
  readonly names: ReadonlySet<string>;
}

/** Whether a selector takes an event status. */
export function selects(selector: EventSelector, status: string): boolean {
  if (status === NONE) return selector.none;
  return selector.all || selector.names.has(status);
}

/**
 * Parses an `events=` list: Docker actions, `all` (every real event) and
 * `none` (the synthetic event), comma separated.
 *
 * @throws {TypeError} for an empty list or an unknown event.
 */
export function parseEvents(value: string): EventSelector {
  const words = value.split(",").map((w) => w.trim().toLowerCase()).filter(
    (w) => w !== "",
  );
  if (words.length === 0) throw new TypeError("events= lists no events");
  const names = new Set<string>();
  let all = false;
  let none = false;
  for (const word of words) {
    if (word === "all") all = true;
    else if (word === NONE) none = true;
    else if (CONTAINER_EVENTS.has(word)) names.add(word);
    else {
      throw new TypeError(
        `unknown event ${JSON.stringify(word)} in events= (known: all, none, ${
          [...CONTAINER_EVENTS].join(", ")
        })`,
      );
    }
  }
  return { all, none, names };
}
