/**
 * What one update compares: the typed model HAProxy runs with the one
 * wanted when it is known and the runtime API may be used (no file is
 * rendered), else the file HAProxy runs with a new rendering.
 *
 * @module
 */

import type { TlsFiles } from "../model/tls.ts";
import {
  companionChanges,
  type Companions,
  type RunningCompanions,
} from "../model/companions.ts";
import type { HAProxyModel } from "../model/model.ts";
import { tableOf } from "../model/model.ts";
import { type Plan } from "./plan_types.ts";
import { planChange } from "./plan.ts";
import { parseShape } from "../render/config_shape.ts";
import { planModel } from "./plan_model.ts";
import type { RenderInput } from "../render/render.ts";

/** What the planner needs to know of what HAProxy runs (driver.ts). */
export interface RunningState {
  /** Why the runtime API is not used, or null. */
  readonly noRuntime: string | null;
  /** What runs, typed, when known. */
  readonly model: HAProxyModel | null;
  /** The file HAProxy was last given, when known. */
  readonly running: string | null;
  /** Its maps and certificates. */
  readonly runningCompanions: RunningCompanions;
}

/** One update's plan, and how it was made. */
export interface UpdatePlan {
  /** What reaching the wanted state takes. */
  readonly plan: Plan;
  /** Planned from the typed model: a runtime change leaves the file to follow. */
  readonly typed: boolean;
  /** Whether what HAProxy runs is known at all. */
  readonly known: boolean;
}

/**
 * Plans one update. `render` renders a whole file (called only when the
 * typed model cannot be used); `renderPart` renders the backends of
 * servers that join, for their `server` lines.
 */
export function planUpdate(
  state: RunningState,
  want: {
    readonly table: RenderInput;
    readonly companions: Companions;
    readonly model: HAProxyModel;
  },
  tls: TlsFiles | undefined,
  render: () => string,
  renderPart: (table: RenderInput) => string,
): UpdatePlan {
  const changes = companionChanges(
    state.runningCompanions,
    want.companions,
    tls,
  );
  const typed = state.noRuntime === null ? state.model : null;
  if (typed !== null) {
    return {
      plan: planModel(
        typed,
        want.model,
        changes,
        // Not shapeOf: these small renderings would push out the shapes it
        // keeps of the files that run.
        (backends) => parseShape(renderPart(tableOf(want.table, backends))),
      ),
      typed: true,
      known: true,
    };
  }
  return {
    plan: planChange(state.running, render(), changes),
    typed: false,
    known: state.running !== null,
  };
}
