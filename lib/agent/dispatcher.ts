/**
 * The dispatcher: one queue per handler, so each handler sees its events in
 * the order they came, and a slow or failing handler holds up no other
 * handler and no later event. A handler's error is logged here, once, with
 * the handler, event and container it concerns.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { ReportedError } from "../util/reported_error.ts";
import { permissionHint } from "../permissions.ts";
import { type EventSelector, NONE, selects } from "./handler_ini.ts";
import { errorMessage } from "../util/error_message.ts";

const log = getLogger(["docker-glue", "agent"]);

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

interface Queue {
  readonly slot: HandlerSlot;
  tail: Promise<void>;
}

/** Handler queues and the events dispatched to them. */
export class Dispatcher {
  #queues: Queue[] = [];
  #failures = 0;

  /** Handler runs that failed or timed out since start. */
  get failures(): number {
    return this.#failures;
  }

  /** Whether any handler wants `action`. */
  wants(action: string): boolean {
    return this.#queues.some((q) => selects(q.slot.events, action));
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

  /** Waits until every handler queue is empty. */
  async idle(): Promise<void> {
    let tails: Promise<void>[];
    do {
      tails = this.#queues.map((q) => q.tail);
      await Promise.all(tails);
    } while (this.#queues.some((q, i) => q.tail !== tails[i]));
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
          error: errorMessage(error),
        });
      }
    }
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
