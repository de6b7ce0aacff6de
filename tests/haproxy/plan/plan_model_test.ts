/**
 * The typed planner against the text planner: over generated pairs of
 * container sets, with and without the host map, both say the same:
 * nothing, a reload, or the same runtime operations with the same `add
 * server` arguments. The text planner compares two rendered files, which
 * is what HAProxy reads, so it is the reference.
 */

import fc from "fast-check";
import {
  assertEquals,
  assertIncludes,
  assertTrue,
} from "../../_fixtures/assert.ts";
import { container, exposes, ip, labels } from "../../_fixtures/containers.ts";
import type { ContainerRecord } from "../../../lib/docker/container.ts";
import {
  modelOf,
  slotShapes,
  tableOf,
} from "../../../lib/haproxy/model/model.ts";
import { parseShape } from "../../../lib/haproxy/render/config_shape.ts";
import { type Plan } from "../../../lib/haproxy/plan/plan_types.ts";
import { shapeOf } from "../../../lib/haproxy/render/config_shape.ts";
import { planFiles, planModel } from "../../../lib/haproxy/plan/plan.ts";
import {
  EMPTY_POOL,
  type PoolAssignment,
} from "../../../lib/haproxy/model/pool.ts";
import { assignPool } from "../../../lib/haproxy/model/host_pool.ts";
import type {
  Renderer,
  RenderInput,
} from "../../../lib/haproxy/render/render.ts";
import { buildRoutes } from "../../../lib/routing/routes.ts";
import {
  builtin,
  HOST_MAP,
  mapRenderer,
  renderer,
  stopping,
  summary,
} from "../../_fixtures/plan.ts";

/** A container drawn from a small world, so that pairs overlap. */
const containerArb = fc.record({
  id: fc.integer({ min: 1, max: 6 }),
  address: fc.integer({ min: 2, max: 4 }),
  host: fc.constantFrom("a.example.com", "b.example.com", "c.example.com"),
  prefix: fc.constantFrom("", "", "/api"),
  weight: fc.constantFrom("100", "50", "0"),
  maxconn: fc.constantFrom("", "", "10"),
  balance: fc.constantFrom("", "", "leastconn"),
  check: fc.constantFrom("", "", "/health"),
  sticky: fc.constantFrom("", "", "1"),
  tcp: fc.constantFrom("", "", "15432"),
  port: fc.constantFrom(80, 80, 8080),
  stopping: fc.boolean(),
});

type Spec = typeof containerArb extends fc.Arbitrary<infer T> ? T : never;

function build(spec: Spec): ContainerRecord {
  const http = `glue_http_${spec.port}`;
  const given: Record<string, string> = {
    [`${http}_host`]: spec.host,
    [`${http}_weight`]: spec.weight,
  };
  const optional: [string, string][] = [
    [`${http}_prefix`, spec.prefix],
    [`${http}_maxconn`, spec.maxconn],
    [`${http}_balance`, spec.balance],
    [`${http}_check`, spec.check],
    [`${http}_sticky`, spec.sticky],
    ["glue_tcp_ports", spec.tcp],
  ];
  for (const [key, value] of optional) if (value !== "") given[key] = value;
  return container(
    `c${spec.id}`,
    ip(`10.0.0.${spec.address}`),
    labels(given),
    exposes("80/tcp", "8080/tcp"),
    ...(spec.stopping ? [stopping] : []),
  );
}

/** Specs with distinct ids, as Docker has them. */
const specsArb = fc.uniqueArray(containerArb, {
  selector: (spec) => spec.id,
  maxLength: 5,
});

/**
 * Two container sets: drawn apart (mostly structural changes), or the
 * second made from the first by one membership change: a container gone,
 * one more like another, a new weight, an address, or a stop.
 */
const pairArb = fc.oneof(
  fc.tuple(specsArb, specsArb),
  fc.tuple(
    specsArb.filter((specs) => specs.length > 0),
    fc.nat(),
    fc.constantFrom("gone", "more", "weight", "address", "stop"),
  ).map(([specs, at, change]) => {
    const i = at % specs.length;
    const spec = specs[i]!;
    const after = [...specs];
    const free = [1, 2, 3, 4, 5, 6, 7].find((id) =>
      !specs.some((s) => s.id === id)
    )!;
    if (change === "gone") after.splice(i, 1);
    if (change === "more") after.push({ ...spec, id: free, address: 4 });
    if (change === "weight") {
      after[i] = { ...spec, weight: spec.weight === "50" ? "100" : "50" };
    }
    if (change === "address") after[i] = { ...spec, address: 5 };
    if (change === "stop") after[i] = { ...spec, stopping: !spec.stopping };
    return [specs, after] as const;
  }),
).map(([a, b]) => [a.map(build), b.map(build)] as const);

interface Side {
  table: RenderInput;
  map: readonly (readonly [string, string])[];
  assignment: PoolAssignment;
}

function side(
  containers: readonly ContainerRecord[],
  pooled: boolean,
  previous: PoolAssignment,
  perPortFrontends: boolean,
): Side {
  const routes = buildRoutes(containers, { perPortFrontends });
  if (!pooled) return { table: routes, map: [], assignment: EMPTY_POOL };
  const { table, assignment } = assignPool(routes, previous);
  return { table, map: table.maps.http, assignment };
}

/** The operations of a plan, sorted, or its kind: ops of one rank may come in another order. */
function outcome(plan: Plan): string[] {
  return plan.kind === "runtime" ? summary(plan).sort() : [plan.kind];
}

function addArgs(plan: Plan): string[] {
  return plan.kind !== "runtime"
    ? []
    : plan.ops.flatMap((op) =>
      op.op === "add"
        ? [
          `${op.backend}/${op.server.name} ${op.server.addArgs.join(" ")} ${
            op.cookieKey ?? ""
          }`,
        ]
        : []
    ).sort();
}

/** Which kinds of plan the generated pairs gave, so a run that tried only reloads fails. */
const seen = new Map<string, number>();

function compare(
  render: Renderer,
  pooled: boolean,
  before: readonly ContainerRecord[],
  after: readonly ContainerRecord[],
  perPort: boolean,
): void {
  const a = side(before, pooled, EMPTY_POOL, perPort);
  const b = side(after, pooled, a.assignment, perPort);
  const maps = pooled ? [{ file: HOST_MAP, before: a.map, after: b.map }] : [];
  const text = planFiles(render.render(a.table), render.render(b.table), {
    maps,
  });
  const slot = slotShapes(
    (input) => render.render(input),
    (t) => parseShape(t).skeleton,
  );
  const typed = planModel(
    modelOf(a.table, slot),
    modelOf(b.table, slot),
    { maps },
    (backends) => shapeOf(render.render(tableOf(b.table, backends))),
  );
  assertEquals(outcome(typed), outcome(text));
  assertEquals(addArgs(typed), addArgs(text));
  seen.set(text.kind, (seen.get(text.kind) ?? 0) + 1);
}

/** Runs the property and checks every kind of plan came up often enough. */
function property(render: Renderer, pooled: boolean, perPort = false): void {
  seen.clear();
  fc.assert(
    fc.property(pairArb, ([before, after]) => {
      compare(render, pooled, before, after, perPort);
    }),
    { numRuns: 400 },
  );
  for (const kind of ["none", "runtime", "reload"]) {
    assertTrue((seen.get(kind) ?? 0) >= 20, `${kind}: ${seen.get(kind)}`);
  }
}

Deno.test("plan model: the typed plan is the text plan, without the host map", () => {
  property(renderer, false);
});

Deno.test("plan model: the typed plan is the text plan, with the host map and its pool", () => {
  property(mapRenderer, true);
});

Deno.test("plan model: the typed plan is the text plan, with per-port frontends and the host map", () => {
  property(builtin(HOST_MAP, true), true, true);
});

Deno.test("plan model: a reload names the route that changed", () => {
  const slot = slotShapes(
    (input) => renderer.render(input),
    (t) => parseShape(t).skeleton,
  );
  const a = buildRoutes([
    container("w1", ip("10.0.0.2"), labels({ glue_http_80_host: "a.b" })),
  ]);
  const b = buildRoutes([
    container("w1", ip("10.0.0.2"), labels({ glue_http_80_host: "a.b" })),
    container("w2", ip("10.0.0.3"), labels({ glue_http_80_host: "c.d" })),
  ]);
  const plan = planModel(modelOf(a, slot), modelOf(b, slot), {}, () => {
    throw new Error("no server line is needed");
  });
  assertEquals(plan.kind, "reload");
  assertIncludes(plan.kind === "reload" ? plan.reason : "", "added");
});
