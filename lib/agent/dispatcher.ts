/**
 * The dispatcher: one queue per handler, so each handler sees its events in
 * the order they came, and a slow or failing handler holds up no other
 * handler and no later event. A handler that may run several events at once
 * gets one lane per container: each container's events stay in order,
 * different containers' run side by side, at most `concurrency` at a time,
 * and `none` waits for every lane. A handler's error is logged here, once,
 * with the handler, event and container it concerns.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { ReportedError } from "../util/reported_error.ts";
import { permissionHint } from "../permissions.ts";
import { type EventSelector, NONE, selects } from "../docker/event_selector.ts";
import { errorMessage } from "../util/error_message.ts";
import { Gate } from "../util/gate.ts";

const log = getLogger(["docker-glue", "agent"]);

/** The part of a handler the agent calls. */
export interface HandlerLike {
  /** Handles one event for a container id ("" for `none`). */
  handle(event: string, containerId: string): Promise<void>;
  /** Finishes work in progress. */
  close?(): Promise<void>;
  /** Opens its log files again (SIGUSR1, after log rotation). */
  reopenLogs?(): Promise<void>;
  /**
   * Needs nothing but the event and the container id (not the inventory):
   * it gets each event as soon as it is read, before the inspect.
   */
  readonly eventOnly?: boolean;
  /** How many events of different containers it may handle at once; 1 by default. */
  readonly concurrency?: number;
}

/**
 * Which handlers an event goes to: `early` the event-only ones as it is
 * read, `late` the others once the inventory has it, `all` both.
 */
export type Phase = "early" | "late" | "all";

function inPhase(slot: HandlerSlot, phase: Phase): boolean {
  return phase === "all" ||
    (slot.handler.eventOnly === true) === (phase === "early");
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

interface Queue {
  readonly slot: HandlerSlot;
  /** One at a time: the last run queued. With lanes: the last `none`. */
  tail: Promise<void>;
  /** The last run queued per container, for a handler with concurrency. */
  readonly lanes: Map<string, Promise<void>>;
  /** Every run queued and not finished. */
  readonly pending: Set<Promise<void>>;
  readonly gate: Gate | null;
}

function queueOf(slot: HandlerSlot, tail: Promise<void>): Queue {
  const concurrency = slot.handler.concurrency ?? 1;
  return {
    slot,
    tail,
    lanes: new Map(),
    pending: new Set(),
    gate: concurrency > 1 ? new Gate(concurrency) : null,
  };
}

/** Handler queues and the events dispatched to them. */
export class Dispatcher {
  #queues: Queue[] = [];
  #failures = 0;

  /** Handler runs that failed or timed out since start. */
  get failures(): number {
    return this.#failures;
  }

  /** Whether any handler (of the phase) wants `action`. */
  wants(action: string, phase: Phase = "all"): boolean {
    return this.#queues.some((q) =>
      inPhase(q.slot, phase) && selects(q.slot.events, action)
    );
  }

  /** Adds a handler. */
  add(slot: HandlerSlot): void {
    this.#queues.push(queueOf(slot, Promise.resolve()));
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
    this.#queues = slots.map((slot) => queueOf(slot, closed));
    await closed;
  }

  /** Waits until every handler queue is empty. */
  async idle(): Promise<void> {
    let queues: readonly Queue[];
    let tails: Promise<void>[];
    do {
      queues = this.#queues;
      tails = queues.map((q) => q.tail);
      await Promise.all([...tails, ...queues.flatMap((q) => [...q.pending])]);
    } while (
      this.#queues !== queues ||
      queues.some((q, i) => q.tail !== tails[i] || q.pending.size > 0)
    );
  }

  /** Asks every handler to open its log files again. */
  async reopenLogs(): Promise<void> {
    await Promise.all(
      this.#queues.map((queue) => queue.slot.handler.reopenLogs?.()),
    );
  }

  /** Waits for queued events, then lets every handler finish its work. */
  async close(): Promise<void> {
    await this.idle();
    await this.#closeQueues(this.#queues);
  }

  /** Waits for the queues' events, then closes their handlers; never throws. */
  async #closeQueues(queues: readonly Queue[]): Promise<void> {
    await Promise.all(queues.flatMap((q) => [q.tail, ...q.pending]));
    for (const { slot } of queues) {
      try {
        await slot.handler.close?.();
      } catch (error) {
        log.error("Handler {handler} failed while closing: {error}", {
          handler: slot.name,
          error: errorMessage(error),
        });
      }
    }
  }

  /**
   * Queues the event for every handler that wants it. Resolves once they have
   * all handled it; then, for a real event, fires `none` once if any of them
   * has `triggers-none=1`. The event stream calls this; so can tests.
   * `phase` picks the handlers by whether they need the inventory.
   */
  async dispatch(
    status: string,
    containerId: string,
    phase: Phase = "all",
  ): Promise<void> {
    const runs: Promise<boolean>[] = [];
    let triggers = false;
    for (const queue of this.#queues) {
      if (!inPhase(queue.slot, phase)) continue;
      if (!selects(queue.slot.events, status)) continue;
      triggers ||= queue.slot.triggersNone;
      runs.push(this.#enqueue(queue, status, containerId));
    }
    await Promise.all(runs);
    if (status !== NONE && triggers) await this.dispatch(NONE, "");
  }

  /** Queues one event behind what it must follow; resolves to its success. */
  #enqueue(queue: Queue, status: string, id: string): Promise<boolean> {
    const { slot, gate, lanes } = queue;
    const lane = gate !== null && status !== NONE && id !== "";
    const after = !lane && gate !== null
      ? Promise.all([queue.tail, ...lanes.values()])
      : lane
      ? lanes.get(id) ?? queue.tail
      : queue.tail;
    const run = after.then(() =>
      gate === null
        ? this.#run(slot, status, id)
        : gate.run(() => this.#run(slot, status, id))
    );
    const done = run.then(() => {});
    if (lane) {
      lanes.set(id, done);
      void done.then(() => {
        if (lanes.get(id) === done) lanes.delete(id);
      });
    } else {
      queue.tail = done;
      lanes.clear();
    }
    queue.pending.add(done);
    void done.then(() => queue.pending.delete(done));
    return run;
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
          error: error instanceof Deno.errors.NotCapable
            ? permissionHint(error as Deno.errors.NotCapable)
            : errorMessage(error),
        });
      }
      return false;
    } finally {
      clearTimeout(timer);
    }
  }
}
