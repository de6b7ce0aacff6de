/**
 * The HAProxy handler: re-renders HAProxy's configuration when containers
 * come and go. docker-balancer is the agent with just this handler.
 *
 * @module
 */

import { type AgentEvent, type Handler, NONE } from "../lib/agent/agent.ts";
import type { HAProxyBalancer } from "../lib/haproxy/balancer.ts";

/** Default `--watch-set`: the original's `die,start` plus what else changes routing. */
export const DEFAULT_WATCH_SET =
  "start,die,stop,destroy,pause,unpause,health_status,rename";

/** Runs the HAProxy engine on `none` (at once) and on watched events (debounced). */
export class HAProxyHandler implements Handler {
  /** Name for logs. */
  readonly name: string;
  readonly #watchSet: ReadonlySet<string>;
  readonly #balancer: HAProxyBalancer;

  /** Creates the handler around a prepared engine. */
  constructor(
    name: string,
    balancer: HAProxyBalancer,
    watchSet: ReadonlySet<string>,
  ) {
    this.name = name;
    this.#balancer = balancer;
    this.#watchSet = watchSet;
  }

  /** The engine, for counters and flushing. */
  get balancer(): HAProxyBalancer {
    return this.#balancer;
  }

  /** `none` and the watch set. */
  wants(status: string): boolean {
    return status === NONE || this.#watchSet.has(status);
  }

  /** Updates at once on `none`; otherwise lets the debounce window collect the burst. */
  async handle(event: AgentEvent): Promise<void> {
    if (event.status === NONE) await this.#balancer.update();
    else this.#balancer.schedule();
  }

  /** Waits for an update in progress; a scheduled one is dropped. */
  close(): Promise<void> {
    return this.#balancer.close();
  }
}

/** Parses a comma-separated event list such as `--watch-set`. */
export function parseEventList(value: string): Set<string> {
  return new Set(
    value.split(",").map((part) => part.trim()).filter((part) => part !== ""),
  );
}
