/**
 * The wanted state built from a source's journal of changed ids is the one
 * built by comparing every container: over generated sequences of
 * containers joining, leaving, changing labels and crash-looping (damped),
 * the two give the same tables, models and placement log lines, and a
 * renderer kept across the sequence writes the file a new one does.
 */

import fc from "fast-check";
import { configure, type LogRecord, reset } from "@logtape/logtape";
import { assertEquals } from "../../_fixtures/assert.ts";
import {
  container,
  ip,
  labels,
  type Option,
} from "../../_fixtures/containers.ts";
import type { ContainerRecord } from "../../../lib/docker/container.ts";
import { ContainerRecords } from "../../../lib/docker/records.ts";
import { DesiredState } from "../../../lib/haproxy/model/desired.ts";
import type { BalancerOptions } from "../../../lib/haproxy/options.ts";
import { LoopReport } from "../../../lib/haproxy/loop_report.ts";
import { builtin, HOST_MAP, mapRenderer } from "../../_fixtures/plan.ts";
import { recordsBy, stepsOf, syncRecords } from "../../_fixtures/steps.ts";

const specArb = fc.record({
  id: fc.integer({ min: 1, max: 10 }),
  address: fc.integer({ min: 2, max: 5 }),
  host: fc.constantFrom("a.example.com", "b.example.com", "c.example.com"),
  prefix: fc.constantFrom("", "", "", "/api"),
  weight: fc.constantFrom("100", "100", "50"),
  state: fc.constantFrom(
    "running",
    "running",
    "running",
    "stopping",
    "looping",
  ),
});

type Spec = typeof specArb extends fc.Arbitrary<infer T> ? T : never;

function recordOf(spec: Spec): ContainerRecord {
  const given: Record<string, string> = {
    glue_http_80_host: spec.host,
    glue_http_80_weight: spec.weight,
  };
  if (spec.prefix !== "") given.glue_http_80_prefix = spec.prefix;
  const state: Option = (r) => {
    if (spec.state === "stopping") r.stopping = true;
    // Restarted by its policy a moment ago: damped.
    if (spec.state === "looping") {
      r.restartCount = 3;
      r.startedAt = new Date().toISOString();
    }
  };
  return container(
    `c${spec.id}`,
    ip(`10.0.0.${spec.address}`),
    labels(given),
    state,
  );
}

/** The engine's settings with an admin socket and the host map. */
const OPTIONS: BalancerOptions = {
  routes: {},
  renderer: mapRenderer,
  apply: {
    configFile: "/etc/haproxy/haproxy.cfg",
    haproxyBin: "haproxy",
    checkArgs: [],
    reloadCmd: [],
  },
  dryRun: true,
  debounce: { quietMs: 0, maxMs: 0 },
  adminSocket: "/run/haproxy/admin.sock",
  maps: { http: HOST_MAP },
};

/** One way of building: its state, its report and the lines it logged. */
interface Side {
  readonly desired: DesiredState;
  readonly report: LoopReport;
  lines: string[];
}

Deno.test("desired state: built from the journal of changed ids, as from every container", async () => {
  let current: string[] | null = null;
  await configure({
    sinks: {
      lines: (record: LogRecord) =>
        current?.push(record.message.map(String).join("")),
    },
    loggers: [
      { category: ["docker-glue"], sinks: ["lines"], lowestLevel: "info" },
      { category: ["logtape", "meta"], sinks: [], lowestLevel: "error" },
    ],
  });
  try {
    await fc.assert(
      fc.asyncProperty(stepsOf(specArb, 8, 8), async (steps) => {
        const records = new ContainerRecords();
        const side = (journal: boolean): Side => {
          const report = new LoopReport();
          const desired = new DesiredState(
            OPTIONS,
            journal ? records.follow() : null,
          );
          return { desired, report, lines: [] };
        };
        const whole = side(false);
        const journaled = side(true);
        const record = recordsBy(recordOf);
        try {
          for (const step of steps) {
            // As the inventory changes: only what an event touched.
            const now = step.map(record);
            syncRecords(records, now);
            const all = records.list();
            const built = [];
            for (const s of [whole, journaled]) {
              current = s.lines = [];
              const desired = await s.desired.build({ list: () => all });
              // What the loop says of each build.
              s.report.damped(desired.looping, desired.damped);
              s.report.findings(desired.built.findings);
              s.report.placements(desired);
              built.push(desired);
              current = null;
            }
            const [a, b] = built;
            assertEquals(b!.table, a!.table);
            assertEquals(b!.model.structure, a!.model.structure);
            assertEquals(
              new Map(b!.model.backends),
              new Map(a!.model.backends),
            );
            assertEquals(journaled.lines.sort(), whole.lines.sort());
            // The long-lived renderer keeps views and backend sections
            // between renders (memo); it must write what a new one does.
            assertEquals(
              mapRenderer.render(b!.table),
              builtin(HOST_MAP).render(a!.table),
            );
          }
        } finally {
          whole.desired.close();
          journaled.desired.close();
        }
      }),
      { numRuns: 200 },
    );
  } finally {
    await reset();
  }
});
