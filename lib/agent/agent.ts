/**
 * The agent: docker-glue's INI handlers on one Docker engine. Data flows
 * one way: the follower (event stream -> inventory, lib/docker/follower.ts)
 * -> dispatcher (one queue per handler, dispatcher.ts) -> handlers.
 * Handlers that need only the event (scripts) get it straight from the
 * stream, before the inspect.
 *
 * @module
 */

import type { DockerClient } from "../docker/client.ts";
import { Inventory } from "../docker/inventory.ts";
import { DockerFollower } from "../docker/follower.ts";
import { Dispatcher, type HandlerSlot } from "./dispatcher.ts";
import type { AgentContext } from "./base_handler.ts";
import { NO_TELEMETRY, type Telemetry } from "../metrics/telemetry.ts";
import { NONE } from "../docker/event_selector.ts";

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
  readonly #dispatcher = new Dispatcher();
  readonly #follower: DockerFollower;
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
    this.inventory = new Inventory(docker);
    const dispatcher = this.#dispatcher;
    this.#follower = new DockerFollower(this.inventory, options, {
      wants: (action, phase) => dispatcher.wants(action, phase),
      early: (action, id) => void dispatcher.dispatch(action, id, "early"),
      changed: (action, id) => void dispatcher.dispatch(action, id, "late"),
      resynced: () => void dispatcher.dispatch(NONE, ""),
    });
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

  /** Asks every handler to open its log files again (SIGUSR1). */
  reopenLogs(): Promise<void> {
    return this.#dispatcher.reopenLogs();
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
   * Lists and inspects the running containers, fires `none` once and waits
   * for the handlers. Returns false when a handler failed.
   *
   * @throws when Docker cannot be reached or a permission is missing.
   */
  async once(): Promise<boolean> {
    this.#oneShot = true;
    await this.inventory.resync();
    const before = this.#dispatcher.failures;
    await this.dispatch(NONE, "");
    await this.idle();
    return this.#dispatcher.failures === before;
  }

  /**
   * Follows the engine until `signal` aborts, firing `none` after every
   * resync (see {@link DockerFollower.watch}). Only a missing permission
   * ends it early (it throws).
   */
  watch(signal: AbortSignal): Promise<void> {
    return this.#follower.watch(signal);
  }
}
