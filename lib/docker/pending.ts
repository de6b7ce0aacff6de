/**
 * Events waiting to be handled, coalesced per container: however many
 * events name one container while the agent is busy, it waits once, is
 * inspected once, and its handlers see each kind of event once, in the
 * order of their last arrival. Memory and Docker API calls stay bounded by
 * the number of containers, not the number of events, in a storm. Pure.
 *
 * @module
 */

import type { DockerEvent } from "./events.ts";
import { isTerminatingSignal } from "./container.ts";

/** Network events that change a container's addresses. */
export const NETWORK_ACTIONS: ReadonlySet<string> = new Set([
  "connect",
  "disconnect",
]);

/** What happened to one container since the agent last looked at it. */
export interface PendingChange {
  /** Container id. */
  readonly id: string;
  /** Distinct actions, in the order of their last arrival. */
  readonly actions: readonly string[];
  /** The last event was a `kill` with a signal that ends the process. */
  readonly terminating: boolean;
  /** Every event was a network connect or disconnect. */
  readonly networkOnly: boolean;
  /** How many events were folded into this change. */
  readonly events: number;
}

interface Entry {
  actions: string[];
  terminating: boolean;
  networkOnly: boolean;
  events: number;
}

/**
 * The container an event is about: the actor of a container event; for a
 * network connect or disconnect, Docker's `container` attribute (its actor
 * is the network), or the actor itself where that attribute is missing
 * (Podman names the container as the actor); null for anything else.
 */
export function containerOf(event: DockerEvent): string | null {
  if (event.type === "container") return event.id;
  if (event.type === "network" && NETWORK_ACTIONS.has(event.action)) {
    return event.attributes.container ?? (event.id || null);
  }
  return null;
}

/** Pending changes by container, oldest first. */
export class PendingChanges {
  // A Map keeps insertion order: a container keeps its place in the queue
  // when more of its events arrive.
  readonly #entries = new Map<string, Entry>();

  /** Containers waiting. */
  get size(): number {
    return this.#entries.size;
  }

  /** Adds an event; returns the container it is about, or null for none. */
  add(event: DockerEvent): string | null {
    const id = containerOf(event);
    if (id === null) return null;
    const network = event.type === "network";
    let entry = this.#entries.get(id);
    if (entry === undefined) {
      entry = { actions: [], terminating: false, networkOnly: true, events: 0 };
      this.#entries.set(id, entry);
    }
    const at = entry.actions.indexOf(event.action);
    if (at >= 0) entry.actions.splice(at, 1);
    entry.actions.push(event.action);
    entry.terminating = event.action === "kill" &&
      isTerminatingSignal(event.attributes.signal);
    entry.networkOnly &&= network;
    entry.events++;
    return id;
  }

  /** Takes the oldest waiting container's change. */
  take(): PendingChange | undefined {
    const first = this.#entries.entries().next();
    if (first.done) return undefined;
    const [id, entry] = first.value;
    this.#entries.delete(id);
    return { id, ...entry };
  }
}
