/**
 * The agent: follows the Docker engine, keeps the container inventory current
 * and hands each event to the handlers that want it.
 *
 * Data flows one way: event stream -> inventory -> dispatch -> handlers.
 * Each handler has its own queue, so it sees its events in the order they
 * arrived, and a slow or failing handler holds up no other handler and no
 * later event.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { DockerClient } from "../docker/client.ts";
import { readEvents, RecentEvents } from "../docker/events.ts";
import { Inventory } from "../docker/inventory.ts";
import { type PendingChange, PendingChanges } from "../docker/pending.ts";
import { ReportedError } from "../util/reported_error.ts";
import { driftOf, narrowListed } from "../docker/container.ts";
import { backoff, sleep } from "../util/sleep.ts";
import { permissionHint } from "../permissions.ts";
import type { AgentContext } from "./base_handler.ts";
import { NO_TELEMETRY, type Telemetry } from "../metrics/telemetry.ts";
import { type EventSelector, NONE, selects } from "./handler_ini.ts";

const log = getLogger(["docker-glue", "agent"]);

export { NONE, ReportedError };

/** The part of a handler the agent calls. */
export interface HandlerLike {
  /** Handles one event for a container id ("" for `none`). */
  handle(event: string, containerId: string): Promise<void>;
  /** Finishes work in progress. */
  close?(): Promise<void>;
}

/** A handler with the settings from its `[handler]` section. */
export interface HandlerSlot {
  /** Name in logs: the INI file, or the built-in handler's name. */
  readonly name: string;
  /** Events it wants. */
  readonly events: EventSelector;
  /** Fire `none` once after a real event this handler ran for. */
  readonly triggersNone: boolean;
  /** How long one event may take before the agent moves on. */
  readonly timeoutMs: number;
  /** The handler. */
  readonly handler: HandlerLike;
}

/** After a health event that inspect does not show yet, look again after these delays. */
const HEALTH_RECHECK_MS = [250, 1000, 3000];

/** How often, when events are quiet, the inventory is checked against Docker. */
const RECONCILE_MS = 30_000;

/** Reconnect back-off: 250 ms doubling up to 5 s. */
const RECONNECT_BASE_MS = 250;
const RECONNECT_MAX_MS = 5000;

/** Errors no retry can fix: the program lacks a permission. */
function isFatal(error: unknown): boolean {
  return error instanceof Deno.errors.NotCapable;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

interface Queue {
  readonly slot: HandlerSlot;
  tail: Promise<void>;
}

/** Agent settings. */
export interface AgentOptions {
  /** Docker URL, for messages. */
  readonly dockerUrl: string;
  /** Directories searched for handler scripts. */
  readonly scriptPaths?: readonly string[];
  /** Where the agent and its handlers report for metrics; none by default. */
  readonly telemetry?: Telemetry;
}

/** Follows one Docker engine and dispatches its events to handlers. */
export class Agent implements AgentContext {
  /** Docker client the agent and its handlers share. */
  readonly docker: DockerClient;
  /** Running containers, kept current from the event stream. */
  readonly inventory: Inventory;
  /** Directories searched for handler scripts. */
  readonly scriptPaths: readonly string[];
  /** Docker URL, for messages. */
  readonly dockerUrl: string;
  /** Where the agent and its handlers report for metrics. */
  readonly telemetry: Telemetry;
  #queues: Queue[] = [];
  #failures = 0;
  #oneShot = false;

  /** True once {@link once} has started: handlers finish their work within the event. */
  get oneShot(): boolean {
    return this.#oneShot;
  }

  /** Creates an agent with no handlers; add them with {@link Agent.add}. */
  constructor(docker: DockerClient, options: AgentOptions) {
    this.docker = docker;
    this.dockerUrl = options.dockerUrl;
    this.scriptPaths = options.scriptPaths ?? [];
    this.telemetry = options.telemetry ?? NO_TELEMETRY;
    this.inventory = new Inventory(docker);
  }

  /** Adds a handler. */
  add(slot: HandlerSlot): void {
    this.#queues.push({ slot, tail: Promise.resolve() });
  }

  /**
   * Swaps in a new set of handlers (SIGHUP): queued events finish on the old
   * ones, which are then closed.
   */
  async replace(slots: readonly HandlerSlot[]): Promise<void> {
    const old = this.#queues;
    // From now on events go to the new handlers, and wait until the old
    // ones have finished theirs and closed: a closed handler gets nothing,
    // and no old and new handler run side by side.
    const closed = this.#closeQueues(old);
    this.#queues = slots.map((slot) => ({ slot, tail: closed }));
    await closed;
  }

  /**
   * Lists and inspects the running containers (unless `docker: false`),
   * fires `none` once and waits for the handlers. Returns false when a
   * handler failed.
   *
   * @throws when Docker cannot be reached or a permission is missing.
   */
  async once(options: { docker?: boolean } = {}): Promise<boolean> {
    this.#oneShot = true;
    if (options.docker ?? true) await this.inventory.resync();
    const before = this.#failures;
    await this.dispatch(NONE, "");
    await this.idle();
    return this.#failures === before;
  }

  /** Waits until every handler queue is empty. */
  async idle(): Promise<void> {
    let tails: Promise<void>[];
    do {
      tails = this.#queues.map((q) => q.tail);
      await Promise.all(tails);
    } while (this.#queues.some((q, i) => q.tail !== tails[i]));
  }

  /**
   * Resyncs, fires `none`, then follows the event stream until `signal`
   * aborts. When the stream breaks (engine restart, socket gone) it
   * reconnects with back-off, resumes from the last event time, resyncs and
   * fires `none` again, because Docker keeps only a short event history.
   * Only a missing permission ends it early (it throws).
   */
  async watch(signal: AbortSignal): Promise<void> {
    let since: number | undefined;
    const recent = new RecentEvents();
    let attempt = 0;
    while (!signal.aborted) {
      try {
        // Open the stream before listing, so no event falls between the two.
        const stream = await this.docker.getEvents({
          ...(since === undefined ? {} : { since }),
          // Network events: a container connected to a network after it
          // started gets its new address.
          filters: { type: ["container", "network"] },
        }) as unknown as AsyncIterable<Uint8Array> & { destroy(): void };
        const stop = () => stream.destroy();
        signal.addEventListener("abort", stop, { once: true });
        try {
          await this.inventory.resync();
          this.telemetry.connected("docker");
          if (attempt > 0) {
            log.info(
              "Reconnected to Docker at {url}; resynced {count} running containers",
              { url: this.dockerUrl, count: this.inventory.list().length },
            );
          }
          attempt = 0;
          void this.dispatch(NONE, "");
          await this.#follow(stream, recent, (time) => {
            since = Math.max(since ?? 0, time);
          });
        } finally {
          signal.removeEventListener("abort", stop);
          stream.destroy();
        }
        if (signal.aborted) break;
        this.telemetry.disconnected("docker", "the event stream ended");
        log.warn("Docker event stream at {url} ended; reconnecting", {
          url: this.dockerUrl,
        });
      } catch (error) {
        if (signal.aborted) break;
        if (isFatal(error)) throw error;
        this.telemetry.disconnected(
          "docker",
          `cannot reach Docker at ${this.dockerUrl}: ${describe(error)}`,
        );
        const wait = backoff(attempt, RECONNECT_BASE_MS, RECONNECT_MAX_MS);
        log.warn(
          "Cannot reach Docker at {url}: {error}; retrying in {wait} ms",
          { url: this.dockerUrl, error: describe(error), wait },
        );
      }
      await sleep(
        backoff(attempt++, RECONNECT_BASE_MS, RECONNECT_MAX_MS),
        signal,
      );
    }
  }

  /**
   * Reads the stream as fast as it comes and handles the events in order
   * behind it. Docker drops events for a subscriber that does not read for a
   * moment, so reading never waits for an inspect. Events that wait are
   * coalesced per container (pending.ts): one inspect each, however many
   * events name it. Every
   * {@link RECONCILE_MS} of quiet the inventory is compared with Docker's
   * list of running containers, a safety net for anything lost anyway.
   */
  async #follow(
    stream: AsyncIterable<Uint8Array>,
    recent: RecentEvents,
    seen: (time: number) => void,
  ): Promise<void> {
    const pending = new PendingChanges();
    const waiting: { wake: (() => void) | null } = { wake: null };
    let done = false;
    let failure: unknown = null;
    const reader = (async () => {
      try {
        for await (const line of readEvents(stream)) {
          if ("skipped" in line) {
            log.debug("Ignored event line {line}", { line: line.skipped });
            continue;
          }
          if (!recent.add(line.event)) continue;
          seen(line.event.time);
          this.telemetry.event("docker", line.event.action);
          const id = pending.add(line.event);
          if (id !== null) {
            log.debug("Event {action} for container {id}", {
              action: line.event.action,
              id: id.slice(0, 12),
            });
            waiting.wake?.();
          } else {
            log.debug("Ignored {type} event {action}", {
              type: line.event.type,
              action: line.event.action,
            });
          }
        }
      } catch (error) {
        failure = error;
      } finally {
        done = true;
        waiting.wake?.();
      }
    })();
    let lastCheck = Date.now();
    // Containers whose health event showed no change yet: id -> the times
    // to look again.
    const healthChecks = new Map<string, number[]>();
    while (true) {
      const change = pending.take();
      if (change !== undefined) {
        if (await this.#onChange(change)) {
          const now = Date.now();
          healthChecks.set(change.id, HEALTH_RECHECK_MS.map((ms) => now + ms));
        }
        continue;
      }
      if (done) break;
      const due = [...healthChecks].find(([, at]) =>
        (at[0] ?? 0) <= Date.now()
      );
      if (due !== undefined) {
        const [id, times] = due;
        times.shift();
        if (times.length === 0 || await this.#recheckHealth(id)) {
          healthChecks.delete(id);
        }
        continue;
      }
      const left = lastCheck + RECONCILE_MS - Date.now();
      if (left <= 0) {
        await this.#reconcile();
        lastCheck = Date.now();
        continue;
      }
      const next = Math.min(
        left,
        ...[...healthChecks.values()].map((at) => (at[0] ?? 0) - Date.now()),
      );
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        waiting.wake = resolve;
        timer = setTimeout(resolve, Math.max(0, next));
      });
      clearTimeout(timer);
      waiting.wake = null;
    }
    await reader;
    if (failure !== null) throw failure;
  }

  /**
   * Compares the inventory with Docker's running containers in what routing
   * depends on (state, health, labels, networks), so a lost event is
   * repaired; resyncs on a difference.
   */
  async #reconcile(): Promise<void> {
    const listed = (await this.docker.listContainers()).map(narrowListed);
    const drift = driftOf(this.inventory.list(), listed);
    if (drift.length === 0) return;
    log.warn(
      "The inventory missed changes of {count} containers (Docker drops events under load): {drift}; resynced",
      { count: drift.length, drift: drift.slice(0, 5).join("; ") },
    );
    await this.inventory.resync();
    void this.dispatch(NONE, "");
  }

  /** Waits for queued events, then lets every handler finish its work. */
  async close(): Promise<void> {
    await this.idle();
    await this.#closeQueues(this.#queues);
  }

  /** Waits for the queues' events, then closes their handlers; never throws. */
  async #closeQueues(queues: readonly Queue[]): Promise<void> {
    await Promise.all(queues.map((q) => q.tail));
    for (const { slot } of queues) {
      try {
        await slot.handler.close?.();
      } catch (error) {
        log.error("Handler {handler} failed while closing: {error}", {
          handler: slot.name,
          error: describe(error),
        });
      }
    }
  }

  /**
   * Brings the inventory up to date for one container's pending events,
   * then dispatches each of them.
   */
  async #onChange(change: PendingChange): Promise<boolean> {
    const wanted = change.actions.filter((action) =>
      this.#queues.some((q) => selects(q.slot.events, action))
    );
    if (wanted.length === 0) return false;
    const healthBefore = this.inventory.get(change.id)?.health;
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
      if (this.inventory.get(id) === undefined) return false;
      await this.inventory.refresh(id);
    } else if (last === "destroy") this.inventory.forget(id);
    else if (change.terminating) {
      // No inspect: it would say "running", and every millisecond counts
      // before the process goes.
      this.inventory.markStopping(id);
    } else await this.inventory.refresh(id);
    for (const action of wanted) void this.dispatch(action, id);
    // Podman sends a health event before inspect shows the new status (its
    // event even carries the old one): when nothing changed, look again.
    return change.actions.includes("health_status") &&
      this.inventory.get(id)?.health === healthBefore;
  }

  /**
   * Inspects a container again after a health event that showed no
   * change; dispatches `health_status` once the status has changed.
   * Returns whether it has (or the container is gone).
   */
  async #recheckHealth(id: string): Promise<boolean> {
    const before = this.inventory.get(id)?.health;
    if (before === undefined) return true;
    const record = await this.inventory.refresh(id);
    if (record !== null && record.health === before) return false;
    log.debug("Health of container {id} is {health} on a second look", {
      id: id.slice(0, 12),
      health: record?.health ?? "gone",
    });
    void this.dispatch("health_status", id);
    return true;
  }

  /**
   * Queues the event for every handler that wants it. Resolves once they have
   * all handled it; then, for a real event, fires `none` once if any of them
   * has `triggers-none=1`. The event stream calls this; so can tests.
   */
  async dispatch(status: string, containerId: string): Promise<void> {
    const runs: Promise<boolean>[] = [];
    let triggers = false;
    for (const queue of this.#queues) {
      if (!selects(queue.slot.events, status)) continue;
      triggers ||= queue.slot.triggersNone;
      const run = queue.tail.then(() =>
        this.#run(queue.slot, status, containerId)
      );
      queue.tail = run.then(() => {});
      runs.push(run);
    }
    await Promise.all(runs);
    if (status !== NONE && triggers) await this.dispatch(NONE, "");
  }

  /** Runs one handler on one event; returns whether it succeeded. */
  async #run(
    slot: HandlerSlot,
    status: string,
    containerId: string,
  ): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), slot.timeoutMs);
    });
    const id = containerId ? ` ${containerId.slice(0, 12)}` : "";
    try {
      const result = await Promise.race([
        slot.handler.handle(status, containerId).then(() => "done" as const),
        timeout,
      ]);
      if (result === "timeout") {
        this.#failures++;
        log.error(
          "Handler {handler} did not finish {status}{id} within {seconds} s; moving on",
          { handler: slot.name, status, id, seconds: slot.timeoutMs / 1000 },
        );
        return false;
      }
      return true;
    } catch (error) {
      this.#failures++;
      if (!(error instanceof ReportedError)) {
        // A missing permission is this handler's problem; the others go on.
        log.error("Handler {handler} failed on {status}{id}: {error}", {
          handler: slot.name,
          status,
          id,
          error: isFatal(error)
            ? permissionHint(error as Deno.errors.NotCapable)
            : describe(error),
        });
      }
      return false;
    } finally {
      clearTimeout(timer);
    }
  }
}
