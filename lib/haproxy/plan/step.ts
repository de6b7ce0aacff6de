/**
 * The loop's one decision per update, pure: from what HAProxy runs (the
 * running state the loop keeps), what is wanted, what the runtime API may
 * do and when the last events and reloads came: nothing, runtime
 * operations, a reload and why, or a reload that waits for the burst to
 * settle. Every reason to reload is worded here or in the planner this
 * calls (plan.ts).
 *
 * @module
 */

import {
  companionChanges,
  type Companions,
  NO_COMPANIONS,
  type RunningCompanions,
} from "../model/companions.ts";
import { type HAProxyModel, tableOf } from "../model/model.ts";
import type { TlsFiles } from "../model/tls.ts";
import { parseShape, shapeOf } from "../render/config_shape.ts";
import type { RenderInput } from "../render/render.ts";
import { planFiles, planModel } from "./plan.ts";
import type { Plan, RuntimeOp } from "./plan_types.ts";
import { summarize } from "./runtime_ops.ts";

/** A configuration file installed, with the state it describes. */
export interface Filed {
  readonly text: string;
  /** What it describes, typed. */
  readonly model: HAProxyModel;
  /** Its maps and certificates. */
  readonly companions: Companions;
}

/** What HAProxy runs, as far as the loop knows. */
export interface Running {
  /** The file HAProxy was last given, when known; its servers may lag a runtime change. */
  readonly text: string | null;
  /** What HAProxy runs, typed; null when only the text (or nothing) is known. */
  readonly model: HAProxyModel | null;
  /**
   * Why HAProxy's state is not known since a runtime change failed half-way,
   * or null: the next step reloads at once.
   */
  readonly lost: string | null;
  /** The last file installed, which a restarted HAProxy would run. */
  readonly filed: Filed | null;
  /** The maps and certificates HAProxy runs. */
  readonly companions: RunningCompanions;
  /** When HAProxy last reloaded, epoch ms. */
  readonly lastReload: number;
  /** False after a runtime change failed half-way: server states are then not saved. */
  readonly statesTrusted: boolean;
}

/** Nothing known of HAProxy: the state before the first update. */
export const UNKNOWN: Running = {
  text: null,
  model: null,
  lost: null,
  filed: null,
  companions: NO_COMPANIONS,
  lastReload: -Infinity,
  statesTrusted: true,
};

/** What the runtime API may be used for. */
export interface Capabilities {
  /** An admin socket is configured. */
  readonly adminSocket: boolean;
  /** This binary may use it (false once it was refused). */
  readonly permitted: boolean;
  /**
   * Why the template keeps membership changes from the runtime API (it
   * renders more than server lines when a server joins), or null.
   */
  readonly misfit: string | null;
}

/** Why changes cannot go through the runtime API, or null when they can. */
export function noRuntime(capabilities: Capabilities): string | null {
  if (!capabilities.adminSocket) return "no admin socket";
  if (!capabilities.permitted) return "not allowed to use the admin socket";
  if (capabilities.misfit !== null) {
    return `the template renders more than server lines (${capabilities.misfit})`;
  }
  return null;
}

/** What one update does. */
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
   * Why HAProxy's state was lost (a runtime change failed half-way), or
   * null: a reload puts it right at once.
   */
  readonly lost?: string | null;
  /** Whether what HAProxy runs is known (false: nothing to compare with). */
  readonly known: boolean;
  /** A `-1` run whose installed file already holds the rendering. */
  readonly adoptable: boolean;
  /** The first update after a quiet time. */
  readonly leading: boolean;
  /** A container is about to stop: no burst may hold this back. */
  readonly urgent: boolean;
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

/** Decides what one update does, given its plan. */
export function decide(input: DecisionInput): Decision {
  const { plan, clock } = input;
  if (!input.known && input.adoptable) return { kind: "adopt" };
  if (input.lost != null) {
    return { kind: "reload", reason: `runtime API failed (${input.lost})` };
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

/** What is wanted, as the desired state has it. */
export interface Wanted {
  readonly table: RenderInput;
  readonly companions: Companions;
  readonly model: HAProxyModel;
}

/** Everything {@link step} looks at. */
export interface StepInput {
  readonly running: Running;
  readonly want: Wanted;
  readonly capabilities: Capabilities;
  readonly tls: TlsFiles | undefined;
  /** A `-1` run whose installed file already holds the rendering. */
  readonly adoptable: boolean;
  readonly leading: boolean;
  readonly urgent: boolean;
  readonly clock: BurstClock;
  /** Renders the whole file; called only when the typed model cannot be used. */
  readonly render: () => string;
  /** Renders the backends of servers that join, for their `server` lines. */
  readonly renderPart: (table: RenderInput) => string;
}

/** One update's decision, and whether it was planned from typed state. */
export interface Step {
  readonly decision: Decision;
  /**
   * Planned from the typed model: a runtime change leaves the file to
   * follow later; planned from the text, the file is at hand already.
   */
  readonly typed: boolean;
}

/**
 * The update's one decision. The typed model HAProxy runs is compared with
 * the one wanted when it is known and the runtime API may be used (no file
 * is rendered); otherwise the file HAProxy runs with a new rendering.
 */
export function step(input: StepInput): Step {
  const { running, want } = input;
  const why = noRuntime(input.capabilities);
  const changes = companionChanges(
    running.companions,
    want.companions,
    input.tls,
  );
  const typed = why === null ? running.model : null;
  const plan = typed !== null
    ? planModel(
      typed,
      want.model,
      changes,
      // Not shapeOf: these small renderings would push out the shapes it
      // keeps of the files that run.
      (backends) => parseShape(input.renderPart(tableOf(want.table, backends))),
    )
    : planFiles(running.text, input.render(), changes);
  const decision = decide({
    plan,
    noRuntime: why,
    lost: running.lost,
    known: typed !== null || running.text !== null,
    adoptable: input.adoptable,
    leading: input.leading,
    urgent: input.urgent,
    clock: input.clock,
  });
  return { decision, typed: typed !== null };
}

/**
 * The runtime operations that take HAProxy back from a runtime change to
 * what the last file describes, after the file of that change was
 * rejected; or why that cannot be done without a reload.
 */
export function takeBack(
  running: Running,
  tls: TlsFiles | undefined,
):
  | { readonly ops: readonly RuntimeOp[]; readonly to: Filed }
  | { readonly reason: string } {
  const { model, filed } = running;
  if (model === null || filed === null) return { reason: "no plan" };
  const back = planModel(
    model,
    filed.model,
    companionChanges(running.companions, filed.companions, tls),
    () => shapeOf(filed.text),
  );
  if (back.kind === "reload") return { reason: back.reason };
  return { ops: back.kind === "runtime" ? back.ops : [], to: filed };
}

/** The events' timing that {@link decide} reads: when bursts start and whether one is urgent. */
export class Burst {
  readonly #timing: { readonly quietMs: number; readonly maxMs: number };
  #lastTrigger = -Infinity;
  #burstStart = -Infinity;
  #leading = false;
  #urgent = false;

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
