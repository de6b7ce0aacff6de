/**
 * The pool kept up to date, told which routes left and joined, against a
 * new pool given the whole table and the last assignment (assignPool):
 * over generated sequences of containers, each update's pooled table
 * (routes, pool backends, host maps) and assignment are the same, and its
 * model is the one built whole. Small seeded pools make hosts take parked
 * slots and the pool grow.
 */

import fc from "fast-check";
import { assertEquals, assertTrue } from "../../_fixtures/assert.ts";
import { container, ip, labels } from "../../_fixtures/containers.ts";
import type { ContainerRecord } from "../../../lib/docker/container.ts";
import { HostPool } from "../../../lib/haproxy/model/host_pool.ts";
import { type PoolAssignment } from "../../../lib/haproxy/model/pool.ts";
import { assignPool } from "../../../lib/haproxy/model/host_pool.ts";
import { RouteBuilder } from "../../../lib/routing/routes.ts";
import type { HttpRoute } from "../../../lib/routing/route_types.ts";
import { recordsBy, stepsOf } from "../../_fixtures/steps.ts";
import {
  type Modelled,
  modelOf,
  type SlotShape,
} from "../../../lib/haproxy/model/model.ts";

/** A slot's part: its backend and its route's settings. */
const shape: SlotShape = (slot) =>
  `pool ${slot.backend} ${JSON.stringify(slot.route?.settings ?? null)}`;

const specArb = fc.record({
  id: fc.integer({ min: 1, max: 10 }),
  host: fc.integer({ min: 1, max: 7 }),
  prefix: fc.constantFrom("", "", "", "/api"),
  weight: fc.constantFrom("100", "50"),
  tls: fc.constantFrom("", "", "1"),
  redirect: fc.constantFrom("", "", "1"),
});

type Spec = typeof specArb extends fc.Arbitrary<infer T> ? T : never;

const stepsArb = stepsOf(specArb, 8, 10);

/** A container of a spec. */
function recordOf(spec: Spec): ContainerRecord {
  const given: Record<string, string> = {
    glue_http_80_host: `h${spec.host}.example.com`,
    glue_http_80_weight: spec.weight,
  };
  if (spec.prefix !== "") given.glue_http_80_prefix = spec.prefix;
  if (spec.tls !== "") given.glue_http_80_tls = spec.tls;
  if (spec.redirect !== "") given.glue_http_80_redirect_https = "1";
  return container(`c${spec.id}`, ip(`10.0.0.${spec.id + 1}`), labels(given));
}

/** What two assignments must agree on; `routes` is the pool's own detail. */
function shown(assignment: PoolAssignment) {
  return {
    slots: [...assignment.slots].sort(),
    parked: [...assignment.parked].sort(([a], [b]) => a - b),
    size: assignment.size,
  };
}

Deno.test("host pool: each update's pool is the pool assigned whole", () => {
  fc.assert(
    fc.property(
      stepsArb,
      fc.integer({ min: 0, max: 6 }),
      (steps, seedSize) => {
        const seed: PoolAssignment = {
          slots: new Map(),
          parked: new Map(),
          size: seedSize,
        };
        const builder = new RouteBuilder();
        const pool = new HostPool(seed);
        const record = recordsBy(recordOf);
        let reference = seed;
        let modelled: Modelled | undefined;
        let lastRoutes: readonly HttpRoute[] | undefined;
        for (const step of steps) {
          const table = builder.build(step.map(record));
          const pooled = pool.assign(table, builder.changes);
          // The changes it gives take the last routes to these, as objects.
          const changes = pool.changes;
          if (changes !== null) {
            assertTrue(changes.from === lastRoutes, "changes from elsewhere");
            const now = [
              ...changes.from.filter((r) => !changes.removed.includes(r)),
              ...changes.added,
            ];
            assertEquals(now.length, pooled.routes.length);
            assertTrue(pooled.routes.every((r) => now.includes(r)));
          }
          lastRoutes = pooled.routes;
          const whole = assignPool(table, reference);
          reference = whole.assignment;
          assertEquals(pooled.routes, whole.table.routes);
          assertEquals(pooled.pool, whole.table.pool);
          assertEquals(pooled.maps, whole.table.maps);
          assertEquals(shown(pool.assignment), shown(whole.assignment));
          // The model built from the last one is the model built whole.
          const model = modelOf(pooled, shape, modelled);
          const built = modelOf(pooled, shape);
          assertEquals(model.structure, built.structure);
          assertEquals(new Map(model.backends), new Map(built.backends));
          // The places and backends it says changed are all that differ
          // from the last.
          if (model.changed !== undefined) {
            const { from, structure } = model.changed;
            assertEquals(model.structure.length, from.structure.length);
            model.structure.forEach((part, i) => {
              if (!structure.includes(i)) {
                assertTrue(part === from.structure[i], `part ${i} unsaid`);
              }
            });
            for (const [backend, servers] of model.backends) {
              if (model.changed.backends.has(backend)) continue;
              assertTrue(
                model.changed.from.backends.get(backend) === servers,
                `${backend} changed unsaid`,
              );
            }
          }
          modelled = { table: pooled, model };
        }
      },
    ),
    { numRuns: 400 },
  );
});
