/**
 * The engine's one decision: runtime change, reload now, or a reload that
 * waits for the burst, from the plan and the events' timing.
 */

import { assertEquals } from "../../_fixtures/assert.ts";
import {
  Burst,
  type BurstClock,
  decide,
  type DecisionInput,
} from "../../../lib/haproxy/plan/step.ts";
import type { RuntimeOp } from "../../../lib/haproxy/plan/plan_types.ts";

const OPS: RuntimeOp[] = [{
  op: "weight",
  backend: "http_a",
  server: "a-1:80",
  weight: 50,
}];

/** A burst that began 1 s ago, last event just now, last reload 10 s ago; quiet 500 ms, max 3 s. */
const CLOCK: BurstClock = {
  now: 100_000,
  lastTrigger: 100_000,
  burstStart: 99_000,
  lastReload: 90_000,
  quietMs: 500,
  maxMs: 3000,
};

function input(over: Partial<DecisionInput>): DecisionInput {
  return {
    plan: { kind: "runtime", ops: OPS },
    noRuntime: null,
    known: true,
    adoptable: false,
    leading: false,
    urgent: false,
    clock: CLOCK,
    ...over,
  };
}

Deno.test("decide: membership goes through the runtime API, burst or not", () => {
  assertEquals(decide(input({})), { kind: "runtime", ops: OPS });
});

Deno.test("decide: without the runtime API the reload says why, and waits for the burst's quiet time", () => {
  assertEquals(decide(input({ noRuntime: "no admin socket" })), {
    kind: "wait",
    at: 100_500,
    reason: "1 server reweighted (no admin socket)",
  });
});

Deno.test("decide: the first change after a quiet time, and an urgent one, reload at once; a reload within the quiet time waits", () => {
  const plan = { kind: "reload", reason: "frontend x added" } as const;
  assertEquals(decide(input({ plan, leading: true })), {
    kind: "reload",
    reason: "frontend x added",
  });
  assertEquals(decide(input({ plan, urgent: true })), {
    kind: "reload",
    reason: "frontend x added",
  });
  // Reloaded 100 ms ago: even an urgent change waits for the quiet time.
  assertEquals(
    decide(input({
      plan,
      urgent: true,
      clock: { ...CLOCK, lastReload: 99_900 },
    })).kind,
    "wait",
  );
});

Deno.test("decide: a long burst reloads once per maximum wait", () => {
  const plan = { kind: "reload", reason: "r" } as const;
  // The burst began 2.9 s ago and events keep coming: wait 100 ms, not 500.
  assertEquals(
    decide(input({ plan, clock: { ...CLOCK, burstStart: 97_100 } })),
    { kind: "wait", at: 100_100, reason: "r" },
  );
  // Past the maximum: now.
  assertEquals(
    decide(input({ plan, clock: { ...CLOCK, burstStart: 96_000 } })),
    { kind: "reload", reason: "r" },
  );
});

Deno.test("decide: an unknown running state reloads at once; a failed runtime change reloads at once; a -1 run adopts a file that holds the rendering", () => {
  assertEquals(
    decide(input({
      plan: {
        kind: "reload",
        reason: "the running configuration is not known",
      },
      known: false,
    })).kind,
    "reload",
  );
  assertEquals(decide(input({ lost: "socket gone" })), {
    kind: "reload",
    reason: "runtime API failed (socket gone)",
  });
  assertEquals(decide(input({ known: false, adoptable: true })), {
    kind: "adopt",
  });
  assertEquals(decide(input({ plan: { kind: "none" } })), { kind: "nothing" });
});

Deno.test("burst: the first event after a quiet time leads; take() resets; urgent is kept until taken", () => {
  const burst = new Burst({ quietMs: 500, maxMs: 3000 });
  burst.trigger(1000);
  burst.trigger(1200);
  assertEquals(burst.take(), { leading: true, urgent: false });
  burst.trigger(1400);
  assertEquals(burst.take(), { leading: false, urgent: false });
  burst.markUrgent();
  assertEquals(burst.urgent, true);
  assertEquals(burst.take(), { leading: false, urgent: true });
  assertEquals(burst.urgent, false);
  // Quiet for the quiet time: the next event leads a new burst.
  burst.trigger(1900);
  const clock = burst.clock(2000, 500);
  assertEquals([clock.burstStart, clock.lastTrigger], [1900, 1900]);
  assertEquals(burst.take().leading, true);
});
