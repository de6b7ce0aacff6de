/**
 * The agent: follows the Docker engine, keeps the container inventory current
 * and hands each event to the handlers that want it.
 *
 * Data flows one way: event stream -> inventory -> dispatcher (one queue
 * per handler, dispatcher.ts) -> handlers. Handlers that need only the
 * event (scripts) get it straight from the stream, before the inspect.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { DockerClient } from "../docker/client.ts";
import {
  type DockerEvent,
  readEvents,
  RecentEvents,
} from "../docker/events.ts";
import { Inventory } from "../docker/inventory.ts";
import { containerOf, PendingChanges } from "../docker/pending.ts";
import {
  applyChange,
  type ChangeContext,
  recheckHealth,
  recheckStopping,
} from "./changes.ts";
import { ReportedError } from "../util/reported_error.ts";
import {
  Dispatcher,
  type HandlerLike,
  type HandlerSlot,
} from "./dispatcher.ts";
import { driftOf, narrowListed } from "../docker/container.ts";
import { backoff, sleep } from "../util/sleep.ts";
import type { AgentContext } from "./base_handler.ts";
import { NO_TELEMETRY, type Telemetry } from "../metrics/telemetry.ts";
import { NONE } from "./handler_ini.ts";
import { SecondLooks } from "./second_looks.ts";
import { errorMessage } from "../util/error_message.ts";

const log = getLogger(["docker-glue", "agent"]);

export { NONE, ReportedError };
export type { HandlerLike, HandlerSlot };

/** How often, when events are quiet, the inventory is checked against Docker. */
const RECONCILE_MS = 30_000;

/** The same failure to connect is warned about again after this long. */
const REPEAT_WARNING_MS = 60_000;

/** Reconnect back-off: 250 ms doubling up to 5 s. */
const RECONNECT_BASE_MS = 250;
const RECONNECT_MAX_MS = 5000;

/** Errors no retry can fix: the program lacks a permission. */
function isFatal(error: unknown): boolean {
  return error instanceof Deno.errors.NotCapable;
}

/** Agent settings. */
export interface AgentOptions {
  /** Docker URL, for messages. */
  readonly dockerUrl: string;
  /** Directories searched for handler scripts. */
  readonly scriptPaths?: readonly string[];
  /**
   * The user the agent runs as; as root (0), handler files, scripts and
   * modules others can change are refused. Unknown (-1) by default.
   */
  readonly uid?: number;
  /** Where the agent and its handlers report for metrics; none by default. */
  readonly telemetry?: Telemetry;
  /** The event source's name in metrics and health: `docker` by default. */
  readonly source?: string;
  /** Told when the event stream is connected (after a resync) or lost. */
  readonly onConnection?: (connected: boolean) => void;
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
  /** The user the agent runs as. */
  readonly uid: number;
  /** Where the agent and its handlers report for metrics. */
  readonly telemetry: Telemetry;
  readonly #source: string;
  readonly #onConnection: (connected: boolean) => void;
  readonly #dispatcher = new Dispatcher();
  readonly #looks = new SecondLooks();
  readonly #changes: ChangeContext;
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
    this.uid = options.uid ?? -1;
    this.telemetry = options.telemetry ?? NO_TELEMETRY;
    this.#source = options.source ?? "docker";
    this.#onConnection = options.onConnection ?? (() => {});
    this.inventory = new Inventory(docker);
    this.#changes = {
      inventory: this.inventory,
      dispatcher: this.#dispatcher,
      looks: this.#looks,
    };
  }

  /** Adds a handler. */
  add(slot: HandlerSlot): void {
    this.#dispatcher.add(slot);
  }

  /**
   * Swaps in a new set of handlers (SIGHUP): queued events finish on the old
   * ones, which are then closed.
   */
  replace(slots: readonly HandlerSlot[]): Promise<void> {
    return this.#dispatcher.replace(slots);
  }

  /** Waits until every handler queue is empty. */
  idle(): Promise<void> {
    return this.#dispatcher.idle();
  }

  /** Waits for queued events, then lets every handler finish its work. */
  close(): Promise<void> {
    return this.#dispatcher.close();
  }

  /**
   * Queues the event for every handler that wants it; resolves once they
   * have all handled it (see {@link Dispatcher.dispatch}).
   */
  dispatch(status: string, containerId: string): Promise<void> {
    return this.#dispatcher.dispatch(status, containerId);
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
    const before = this.#dispatcher.failures;
    await this.dispatch(NONE, "");
    await this.idle();
    return this.#dispatcher.failures === before;
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
    let warned = { error: "", at: 0 };
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
          this.telemetry.connected(this.#source);
          this.#onConnection(true);
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
        this.telemetry.disconnected(this.#source, "the event stream ended");
        this.#onConnection(false);
        log.warn("Docker event stream at {url} ended; reconnecting", {
          url: this.dockerUrl,
        });
      } catch (error) {
        if (signal.aborted) break;
        if (isFatal(error)) throw error;
        const said = errorMessage(error);
        this.telemetry.disconnected(
          this.#source,
          `cannot reach Docker at ${this.dockerUrl}: ${said}`,
        );
        this.#onConnection(false);
        const wait = backoff(attempt, RECONNECT_BASE_MS, RECONNECT_MAX_MS);
        // An engine down for hours is one warning a minute, not twelve.
        const repeat = said === warned.error &&
          Date.now() - warned.at < REPEAT_WARNING_MS;
        const message =
          "Cannot reach Docker at {url}: {error}; retrying in {wait} ms";
        const values = { url: this.dockerUrl, error: said, wait };
        if (repeat) log.debug(message, values);
        else log.warn(message, values);
        if (!repeat) warned = { error: said, at: Date.now() };
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
          this.telemetry.event(this.#source, line.event.action);
          this.#early(line.event);
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
    while (true) {
      const change = pending.take();
      if (change !== undefined) {
        if (await applyChange(this.#changes, change)) {
          this.#looks.health(change.id, Date.now());
        }
        continue;
      }
      if (done) break;
      const look = this.#looks.take(Date.now());
      if (look?.kind === "health") {
        if (await recheckHealth(this.#changes, look.id)) {
          this.#looks.settled(look.id);
        }
        continue;
      }
      if (look?.kind === "stopping") {
        await recheckStopping(this.#changes, look.id);
        continue;
      }
      const left = lastCheck + RECONCILE_MS - Date.now();
      if (left <= 0) {
        await this.#reconcile();
        lastCheck = Date.now();
        continue;
      }
      const next = Math.min(left, this.#looks.wait(Date.now()));
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
   * Hands an event at once to the handlers that need only the event (as
   * the original docker-glue did with every event), before any inspect. A
   * network event is news only for a container known to run, as for the
   * handlers that wait for the inspect (changes.ts).
   */
  #early(event: DockerEvent): void {
    const id = containerOf(event);
    if (id === null || !this.#dispatcher.wants(event.action, "early")) return;
    if (event.type === "network" && this.inventory.get(id) === undefined) {
      return;
    }
    void this.#dispatcher.dispatch(event.action, id, "early");
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
}
