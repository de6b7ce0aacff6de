/**
 * Follows one Docker engine: keeps its inventory of running containers
 * current from the event stream (an inspect per changed container, or none
 * where an inspect could only mislead, and second looks some events need
 * later), reconnects and resyncs when the stream breaks, and tells a
 * listener what changed, container by container, with Docker's action.
 * The agent dispatches what it hears to its handlers; docker-balancer hands
 * it to its loop, and each other engine it follows has a follower of its
 * own.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { DockerClient } from "./client.ts";
import { type DockerEvent, readEvents, RecentEvents } from "./events.ts";
import type { Inventory } from "./inventory.ts";
import { containerOf, type PendingChange, PendingChanges } from "./pending.ts";
import { driftOf, narrowListed } from "./container.ts";
import { SecondLooks } from "./second_looks.ts";
import { backoff, sleep } from "../util/sleep.ts";
import { NO_TELEMETRY, type Telemetry } from "../metrics/telemetry.ts";
import { errorMessage } from "../util/error_message.ts";

const log = getLogger(["docker-glue", "docker"]);

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

/**
 * When a listener hears of an event: `early` as it is read, before any
 * inspect; `late` once the inventory has it.
 */
export type Phase = "early" | "late";

/** Who hears what the follower saw. */
export interface FollowerListener {
  /** Whether `action` is wanted in `phase`: unwanted events cost no inspect. */
  wants(action: string, phase: Phase): boolean;
  /** An event as it is read, before the inventory has it. */
  early(action: string, id: string): void;
  /** An event for container `id`, with the inventory up to date. */
  changed(action: string, id: string): void;
  /**
   * The inventory was read whole again (connected, reconnected, drift
   * repaired, a stop that did not come): anything may have changed.
   */
  resynced(): void;
}

/**
 * A container still running this long after its stop timeout ignored the
 * terminating signal (`docker kill -s TERM` to a PID 1 without a handler):
 * its drain ends. Docker's own default stop timeout is 10 s.
 */
const STOP_GRACE_MS = 5000;
const DEFAULT_STOP_TIMEOUT_S = 10;

/** Follower settings. */
export interface FollowerOptions {
  /** Docker URL, for messages. */
  readonly dockerUrl: string;
  /** Where connections and events are counted; nowhere by default. */
  readonly telemetry?: Telemetry;
  /** The source's name in metrics and health: `docker` by default. */
  readonly source?: string;
  /** Told when the event stream is connected (after a resync) or lost. */
  readonly onConnection?: (connected: boolean) => void;
}

/** Follows one Docker engine into its inventory and tells a listener. */
export class DockerFollower {
  /** Running containers, kept current from the event stream. */
  readonly inventory: Inventory;
  readonly #docker: DockerClient;
  readonly #dockerUrl: string;
  readonly #telemetry: Telemetry;
  readonly #source: string;
  readonly #onConnection: (connected: boolean) => void;
  readonly #listener: FollowerListener;
  readonly #looks = new SecondLooks();

  /** Creates a follower; nothing connects until {@link watch}. */
  constructor(
    inventory: Inventory,
    options: FollowerOptions,
    listener: FollowerListener,
  ) {
    this.inventory = inventory;
    this.#docker = inventory.docker;
    this.#dockerUrl = options.dockerUrl;
    this.#telemetry = options.telemetry ?? NO_TELEMETRY;
    this.#source = options.source ?? "docker";
    this.#onConnection = options.onConnection ?? (() => {});
    this.#listener = listener;
  }

  /**
   * Resyncs, tells the listener, then follows the event stream until
   * `signal` aborts. When the stream breaks (engine restart, socket gone)
   * it reconnects with back-off, resumes from the last event time and
   * resyncs again, because Docker keeps only a short event history.
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
        const stream = await this.#docker.getEvents({
          ...(since === undefined ? {} : { since }),
          // Network events: a container connected to a network after it
          // started gets its new address.
          filters: { type: ["container", "network"] },
        }) as unknown as AsyncIterable<Uint8Array> & { destroy(): void };
        const stop = () => stream.destroy();
        signal.addEventListener("abort", stop, { once: true });
        try {
          await this.inventory.resync();
          this.#telemetry.connected(this.#source);
          this.#onConnection(true);
          if (attempt > 0) {
            log.info(
              "Reconnected to Docker at {url}; resynced {count} running containers",
              { url: this.#dockerUrl, count: this.inventory.list().length },
            );
          }
          attempt = 0;
          this.#listener.resynced();
          await this.#follow(stream, recent, (time) => {
            since = Math.max(since ?? 0, time);
          });
        } finally {
          signal.removeEventListener("abort", stop);
          stream.destroy();
        }
        if (signal.aborted) break;
        this.#telemetry.disconnected(this.#source, "the event stream ended");
        this.#onConnection(false);
        log.warn("Docker event stream at {url} ended; reconnecting", {
          url: this.#dockerUrl,
        });
      } catch (error) {
        if (signal.aborted) break;
        if (isFatal(error)) throw error;
        const said = errorMessage(error);
        this.#telemetry.disconnected(
          this.#source,
          `cannot reach Docker at ${this.#dockerUrl}: ${said}`,
        );
        this.#onConnection(false);
        const wait = backoff(attempt, RECONNECT_BASE_MS, RECONNECT_MAX_MS);
        // An engine down for hours is one warning a minute, not twelve.
        const repeat = said === warned.error &&
          Date.now() - warned.at < REPEAT_WARNING_MS;
        const message =
          "Cannot reach Docker at {url}: {error}; retrying in {wait} ms";
        const values = { url: this.#dockerUrl, error: said, wait };
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
          this.#telemetry.event(this.#source, line.event.action);
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
        if (await this.#apply(change)) {
          this.#looks.health(change.id, Date.now());
        }
        continue;
      }
      if (done) break;
      const look = this.#looks.take(Date.now());
      if (look?.kind === "health") {
        if (await this.#recheckHealth(look.id)) {
          this.#looks.settled(look.id);
        }
        continue;
      }
      if (look?.kind === "stopping") {
        await this.#recheckStopping(look.id);
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
   * Brings the inventory up to date for one container's pending events,
   * then tells the listener of each. Returns whether the health shown has
   * not changed after a health event (look again later).
   */
  async #apply(change: PendingChange): Promise<boolean> {
    const wanted = change.actions.filter((action) =>
      this.#listener.wants(action, "late")
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
      const timeout = this.inventory.get(id)?.stopTimeout ??
        DEFAULT_STOP_TIMEOUT_S;
      this.#looks.stopping(id, Date.now() + timeout * 1000 + STOP_GRACE_MS);
    } else await this.inventory.refresh(id);
    for (const action of wanted) this.#listener.changed(action, id);
    // Podman sends a health event before inspect shows the new status (its
    // event even carries the old one): when nothing changed, look again.
    return change.actions.includes("health_status") &&
      this.inventory.get(id)?.health === healthBefore;
  }

  /**
   * Inspects a container marked stopping whose stop timeout has passed: if
   * it still runs, it ignored the signal, and is routed again.
   */
  async #recheckStopping(id: string): Promise<void> {
    if (this.inventory.get(id)?.stopping !== true) return;
    const record = await this.inventory.refresh(id, "recheck");
    if (record === null) return;
    log.info(
      "Container {container}: still running {seconds} s after a terminating signal it ignored; no longer stopping",
      {
        container: record.name,
        seconds: (record.stopTimeout ?? DEFAULT_STOP_TIMEOUT_S) +
          STOP_GRACE_MS / 1000,
      },
    );
    this.#listener.resynced();
  }

  /**
   * Inspects a container again after a health event that showed no
   * change; tells of `health_status` once the status has changed.
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
    this.#listener.changed("health_status", id);
    return true;
  }

  /**
   * Tells the listener of an event at once, before any inspect (as the
   * original docker-glue did with every event). A network event is news
   * only for a container known to run, as for the late phase.
   */
  #early(event: DockerEvent): void {
    const id = containerOf(event);
    if (id === null || !this.#listener.wants(event.action, "early")) return;
    if (event.type === "network" && this.inventory.get(id) === undefined) {
      return;
    }
    this.#listener.early(event.action, id);
  }

  /**
   * Compares the inventory with Docker's running containers in what routing
   * depends on (state, health, labels, networks), so a lost event is
   * repaired; resyncs on a difference.
   */
  async #reconcile(): Promise<void> {
    const listed = (await this.#docker.listContainers()).map(narrowListed);
    const drift = driftOf(this.inventory.list(), listed);
    if (drift.length === 0) return;
    log.warn(
      "The inventory missed changes of {count} containers (Docker drops events under load): {drift}; resynced",
      { count: drift.length, drift: drift.slice(0, 5).join("; ") },
    );
    await this.inventory.resync();
    this.#listener.resynced();
  }
}
