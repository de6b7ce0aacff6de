/**
 * The agent: follows the Docker engine, keeps the container inventory current
 * and hands each event to the handlers that want it.
 *
 * Data flows one way: event stream -> inventory -> dispatch -> handlers.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { DockerClient } from "../docker/client.ts";
import { type DockerEvent, readEvents } from "../docker/events.ts";
import { Inventory } from "../docker/inventory.ts";
import { backoff, sleep } from "../util/sleep.ts";

const log = getLogger(["docker-glue", "agent"]);

/** The synthetic event fired at start-up and after every full resync. */
export const NONE = "none";

/** What a handler receives. */
export interface AgentEvent {
  /** `none`, or the Docker action (`start`, `die`, `health_status`, ...). */
  readonly status: string;
  /** Container id, or "" for `none`. */
  readonly containerId: string;
  /** The Docker event behind it; absent for `none`. */
  readonly docker?: DockerEvent;
}

/** Something that reacts to events. */
export interface Handler {
  /** Name for logs (the INI file, or the built-in handler's name). */
  readonly name: string;
  /** Whether this handler wants events with this status. */
  wants(status: string): boolean;
  /** Handles one event. Throwing is logged and does not stop the agent. */
  handle(event: AgentEvent): Promise<void>;
  /** Finishes work in progress before the process exits. */
  close?(): Promise<void>;
}

/**
 * A handler failure the handler has already logged in full; the agent counts
 * it as a failure without logging it again.
 */
export class ReportedError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "ReportedError";
  }
}

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

/** Follows one Docker engine and dispatches its events to handlers. */
export class Agent {
  /** Docker client the agent and its handlers share. */
  readonly docker: DockerClient;
  /** Running containers, kept current from the event stream. */
  readonly inventory: Inventory;
  readonly #handlers: readonly Handler[];
  readonly #dockerUrl: string;

  /** Creates an agent; nothing happens until {@link Agent.once} or {@link Agent.watch}. */
  constructor(
    docker: DockerClient,
    dockerUrl: string,
    handlers: readonly Handler[],
  ) {
    this.docker = docker;
    this.#dockerUrl = dockerUrl;
    this.inventory = new Inventory(docker);
    this.#handlers = handlers;
  }

  /**
   * Lists and inspects the running containers, then fires `none` once.
   * Returns false when a handler failed.
   *
   * @throws when Docker cannot be reached.
   */
  async once(): Promise<boolean> {
    await this.inventory.resync();
    return await this.#dispatch({ status: NONE, containerId: "" }) === 0;
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
    let lastNano = "";
    let attempt = 0;
    while (!signal.aborted) {
      try {
        // Open the stream before listing, so no event falls between the two.
        const stream = await this.docker.getEvents({
          ...(since === undefined ? {} : { since }),
          filters: { type: ["container"] },
        }) as unknown as AsyncIterable<Uint8Array> & { destroy(): void };
        const stop = () => stream.destroy();
        signal.addEventListener("abort", stop, { once: true });
        try {
          await this.inventory.resync();
          if (attempt > 0) {
            log.info(
              "Reconnected to Docker at {url}; resynced {count} running containers",
              {
                url: this.#dockerUrl,
                count: this.inventory.list().length,
              },
            );
          }
          attempt = 0;
          await this.#dispatch({ status: NONE, containerId: "" });
          for await (const line of readEvents(stream)) {
            if ("skipped" in line) {
              log.debug("Ignored event line {line}", { line: line.skipped });
              continue;
            }
            const event = line.event;
            // After a reconnect `since` replays the last second; skip what
            // was already handled.
            if (
              since !== undefined && (event.time < since ||
                (event.time === since && event.timeNano <= lastNano))
            ) {
              continue;
            }
            since = event.time;
            lastNano = event.timeNano;
            await this.#onEvent(event);
          }
        } finally {
          signal.removeEventListener("abort", stop);
        }
        if (signal.aborted) break;
        log.warn("Docker event stream at {url} ended; reconnecting", {
          url: this.#dockerUrl,
        });
      } catch (error) {
        if (signal.aborted) break;
        if (isFatal(error)) throw error;
        const wait = backoff(attempt, RECONNECT_BASE_MS, RECONNECT_MAX_MS);
        log.warn(
          "Cannot reach Docker at {url}: {error}; retrying in {wait} ms",
          {
            url: this.#dockerUrl,
            error: describe(error),
            wait,
          },
        );
      }
      await sleep(
        backoff(attempt++, RECONNECT_BASE_MS, RECONNECT_MAX_MS),
        signal,
      );
    }
  }

  /** Waits for every handler to finish its work in progress. */
  async close(): Promise<void> {
    for (const handler of this.#handlers) {
      try {
        await handler.close?.();
      } catch (error) {
        log.error("Handler {handler} failed while closing: {error}", {
          handler: handler.name,
          error: describe(error),
        });
      }
    }
  }

  async #onEvent(event: DockerEvent): Promise<void> {
    if (event.type !== "container") {
      log.debug("Ignored {type} event {action}", {
        type: event.type,
        action: event.action,
      });
      return;
    }
    const wanted = this.#handlers.some((handler) =>
      handler.wants(event.action)
    );
    if (!wanted) return;
    log.debug("Event {action} for container {id}", {
      action: event.action,
      id: event.id.slice(0, 12),
    });
    if (event.action === "destroy") this.inventory.forget(event.id);
    else await this.inventory.refresh(event.id);
    await this.#dispatch({
      status: event.action,
      containerId: event.id,
      docker: event,
    });
  }

  /** Runs the handlers that want the event; returns how many failed. */
  async #dispatch(event: AgentEvent): Promise<number> {
    let failed = 0;
    for (const handler of this.#handlers) {
      if (!handler.wants(event.status)) continue;
      try {
        await handler.handle(event);
      } catch (error) {
        if (isFatal(error)) throw error;
        failed++;
        if (error instanceof ReportedError) continue;
        log.error("Handler {handler} failed on {status}{id}: {error}", {
          handler: handler.name,
          status: event.status,
          id: event.containerId ? ` ${event.containerId.slice(0, 12)}` : "",
          error: describe(error),
        });
      }
    }
    return failed;
  }
}
