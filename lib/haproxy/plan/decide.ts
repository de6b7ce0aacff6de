/**
 * The engine's one decision per update: given what the plan needs and when
 * the last events and reloads came, do nothing, change HAProxy through the
 * runtime API, reload it, or wait for the burst to settle. Pure, so every
 * rule about reloads lives here and nowhere else.
 *
 * @module
 */

import type { Plan, RuntimeOp } from "./plan_types.ts";
import { summarize } from "./runtime_ops.ts";

/** What the engine does for one update. */
export type Decision =
  /** HAProxy has it all; the files are put right. */
  | { readonly kind: "nothing" }
  /** A `-1` run found the file it would write: taken as what HAProxy runs. */
  | { readonly kind: "adopt" }
  /** Changes through the admin socket, no reload. */
  | { readonly kind: "runtime"; readonly ops: readonly RuntimeOp[] }
  /** A reload now, and why. */
  | { readonly kind: "reload"; readonly reason: string }
  /** A reload that waits for the burst to settle until `at` (epoch ms). */
  | { readonly kind: "wait"; readonly at: number; readonly reason: string };

/** When events and reloads came, in epoch ms, and how long bursts are. */
export interface BurstClock {
  readonly now: number;
  /** The last event. */
  readonly lastTrigger: number;
  /** The first event after a quiet time. */
  readonly burstStart: number;
  /** The last reload. */
  readonly lastReload: number;
  /** Quiet time that ends a burst; 0 never waits. */
  readonly quietMs: number;
  /** Longest a reload waits, from the burst's start or the last reload. */
  readonly maxMs: number;
}

/** Everything {@link decide} looks at. */
export interface DecisionInput {
  /** What reaching the new configuration takes. */
  readonly plan: Plan;
  /** Null when the runtime API may be used; otherwise why not. */
  readonly noRuntime: string | null;
  /**
   * Why the runtime change this update just tried failed half-way, or
   * null: HAProxy's state is then unknown, and a reload puts it right now.
   */
  readonly runtimeFailed?: string | null;
  /** Whether what HAProxy runs is known (false: nothing to compare with). */
  readonly known: boolean;
  /** A `-1` run whose installed file already holds the rendering. */
  readonly adoptable: boolean;
  /** The first update after a quiet time. */
  readonly leading: boolean;
  /** A container is about to stop: no burst may hold this back. */
  readonly urgent: boolean;
  /** Burst timing. */
  readonly clock: BurstClock;
}

/**
 * How long a reload should still wait for the burst of events to settle,
 * in ms; 0 when it may run now. The maximum counts from the burst's start
 * or the last reload, so a long burst reloads once per maximum wait, not
 * on every event once the first maximum has passed.
 */
export function burstWait(clock: BurstClock): number {
  if (clock.quietMs === 0) return 0;
  const since = Math.max(clock.burstStart, clock.lastReload);
  const end = Math.min(clock.lastTrigger + clock.quietMs, since + clock.maxMs);
  return Math.max(0, end - clock.now);
}

/** Decides what one update does. */
export function decide(input: DecisionInput): Decision {
  const { plan, clock } = input;
  if (!input.known && input.adoptable) return { kind: "adopt" };
  if (input.runtimeFailed != null) {
    return {
      kind: "reload",
      reason: `runtime API failed (${input.runtimeFailed})`,
    };
  }
  if (plan.kind === "none") return { kind: "nothing" };
  if (plan.kind === "runtime" && input.noRuntime === null) {
    return { kind: "runtime", ops: plan.ops };
  }
  const reason = plan.kind === "reload"
    ? plan.reason
    : `${summarize(plan.ops)} (${input.noRuntime})`;
  // The first change after a quiet time, and a drain that needs a reload,
  // go at once, but HAProxy reloads at most once per quiet time: a storm
  // with pauses in it, or a mass stop, is a burst too.
  const rested = clock.now - clock.lastReload >= clock.quietMs;
  const wait = !input.known || ((input.leading || input.urgent) && rested)
    ? 0
    : burstWait(clock);
  return wait > 0
    ? { kind: "wait", at: clock.now + wait, reason }
    : { kind: "reload", reason };
}

/** The events' timing that {@link decide} reads: when bursts start and whether one is urgent. */
export class Burst {
  readonly #timing: { readonly quietMs: number; readonly maxMs: number };
  #lastTrigger = -Infinity;
  #burstStart = -Infinity;
  #leading = false;
  #urgent = false;

  /** Creates the tracker for these quiet and maximum times. */
  constructor(timing: { readonly quietMs: number; readonly maxMs: number }) {
    this.#timing = timing;
  }

  /** Notes an event; the first after a quiet time leads a burst. */
  trigger(now: number): void {
    if (now - this.#lastTrigger >= this.#timing.quietMs) {
      this.#burstStart = now;
      this.#leading = true;
    }
    this.#lastTrigger = now;
  }

  /** Notes that a container is about to stop: the next update may not wait. */
  markUrgent(): void {
    this.#urgent = true;
  }

  /** Whether the next update is urgent. */
  get urgent(): boolean {
    return this.#urgent;
  }

  /** Lets the next update go at once, as the first of a burst. */
  lead(): void {
    this.#leading = true;
  }

  /** Whether the next update leads a burst or is urgent; both are then reset. */
  take(): { leading: boolean; urgent: boolean } {
    const taken = { leading: this.#leading, urgent: this.#urgent };
    this.#leading = false;
    this.#urgent = false;
    return taken;
  }

  /** The clock for {@link decide}. */
  clock(now: number, lastReload: number): BurstClock {
    return {
      now,
      lastTrigger: this.#lastTrigger,
      burstStart: this.#burstStart,
      lastReload,
      ...this.#timing,
    };
  }
}
