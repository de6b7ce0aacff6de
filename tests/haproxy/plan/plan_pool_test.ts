/**
 * The planner with the host map and its pool backends: new hosts, leaving
 * hosts and per-port frontends without a reload, and what still reloads.
 */

import {
  assertEquals,
  assertIncludes,
  assertTrue,
} from "../../_fixtures/assert.ts";
import { container, exposes, ip, labels } from "../../_fixtures/containers.ts";
import type { ContainerRecord } from "../../../lib/docker/container.ts";
import { planFiles } from "../../../lib/haproxy/plan/plan.ts";
import { EMPTY_POOL, POOL_SPARE } from "../../../lib/haproxy/model/pool.ts";
import { assignPool } from "../../../lib/haproxy/model/host_pool.ts";
import { buildRoutes } from "../../../lib/routing/routes.ts";
import {
  bHost,
  builtin,
  HOST_MAP,
  one,
  pooled,
  pooledPlan,
  summary,
  web,
} from "../../_fixtures/plan.ts";

Deno.test("plan with the host map: a new host is a pool backend's servers and a map entry, no reload", () => {
  assertEquals(pooledPlan([one], [one, bHost]), [
    "add hosts_2/b1:80 10.0.0.4:80 weight 100",
    "map b.example.com hosts_2",
  ]);
});

Deno.test("plan with the host map: the last container of a host takes its map entry first", () => {
  assertEquals(pooledPlan([one, bHost], [one]), [
    "map b.example.com (removed)",
    "remove hosts_2/b1:80",
  ]);
});

Deno.test("plan with the host map: a host keeps its pool backend while others come and go", () => {
  const a = pooled([one, bHost]);
  const b = pooled([bHost], a.assignment);
  const c = pooled([bHost, one], b.assignment);
  assertEquals([a.map, b.map, c.map], [
    [["a.example.com", "hosts_1"], ["b.example.com", "hosts_2"]],
    [["b.example.com", "hosts_2"]],
    [["a.example.com", "hosts_1"], ["b.example.com", "hosts_2"]],
  ]);
});

Deno.test("plan with the host map: prefixes and wildcards keep their ACLs and reload", () => {
  assertEquals(
    pooledPlan([one], [
      one,
      container(
        "p1",
        ip("10.0.0.5"),
        labels({
          glue_http_80_host: "a.example.com",
          glue_http_80_prefix: "api",
        }),
      ),
    ]),
    ["reload: backend http_a.example.com_api added"],
  );
});

Deno.test("plan with the host map: outgrowing the pool reloads once, with room to spare", () => {
  const many = (n: number) =>
    Array.from({ length: n }, (_, i) =>
      container(
        `h${i}`,
        ip(`10.0.${Math.floor(i / 200)}.${(i % 200) + 2}`),
        labels({ glue_http_80_host: `h${i}.example.com` }),
      ));
  const first = pooled(many(5));
  assertEquals(first.assignment.size, 5 + POOL_SPARE);
  const full = pooled(many(5 + POOL_SPARE), first.assignment);
  assertEquals(full.assignment.size, 5 + POOL_SPARE);
  assertEquals(planFiles(first.text, full.text).kind, "runtime");
  const grown = pooled(many(6 + POOL_SPARE), full.assignment);
  assertTrue(
    grown.assignment.size >= 6 + 2 * POOL_SPARE,
    `size ${grown.assignment.size}`,
  );
  assertEquals(
    summary(planFiles(full.text, grown.text))[0],
    `reload: backend hosts_${6 + POOL_SPARE} added, backend hosts_${
      7 + POOL_SPARE
    } added, backend hosts_${8 + POOL_SPARE} added, ...`,
  );
});

Deno.test("plan with the host map: a host with its own check and stickiness goes and comes back without a reload", () => {
  const special = (name: string, address: string) =>
    container(
      name,
      ip(address),
      labels({
        glue_http_80_host: "special.example.com",
        glue_http_80_sticky: "1",
        glue_http_80_check: "/healthz",
        glue_http_80_balance: "leastconn",
      }),
    );
  const first = pooled([one, special("s1", "10.0.0.7")]);
  const gone = pooled([one], first.assignment);
  // Another host arriving meanwhile takes a free slot, not the parked one.
  const other = pooled([one, bHost], gone.assignment);
  const back = pooled(
    [one, bHost, special("s2", "10.0.0.8")],
    other.assignment,
  );
  // Map entries aside (planned with the maps in the engine), only servers change.
  assertEquals(summary(planFiles(first.text, gone.text)), [
    "remove hosts_1/s1:80",
  ]);
  assertEquals(summary(planFiles(gone.text, other.text)), [
    "add hosts_3/b1:80 10.0.0.4:80 weight 100",
  ]);
  assertEquals(summary(planFiles(other.text, back.text)), [
    "add hosts_1/s2:80 10.0.0.8:80 weight 100",
  ]);
  assertEquals(back.map, [
    ["a.example.com", "hosts_2"],
    ["b.example.com", "hosts_3"],
    ["special.example.com", "hosts_1"],
  ]);
});

Deno.test("plan with per-port frontends: a new host on a port is a pool backend and a host:port map entry, no reload; a new port reloads", () => {
  const perPort = builtin(HOST_MAP, true);
  const on8080 = (name: string, address: string, host: string) =>
    container(
      name,
      ip(address),
      exposes("8080/tcp"),
      labels({ [`glue_http_8080_host`]: host }),
    );
  const step = (containers: ContainerRecord[], previous = EMPTY_POOL) => {
    const { table, assignment } = assignPool(
      buildRoutes(containers, { perPortFrontends: true }),
      previous,
    );
    return { text: perPort.render(table), map: table.maps.http, assignment };
  };
  const plan = (
    a: ReturnType<typeof step>,
    b: ReturnType<typeof step>,
  ) =>
    summary(
      planFiles(a.text, b.text, {
        maps: [{ file: HOST_MAP, before: a.map, after: b.map }],
      }),
    );
  const a = step([on8080("x1", "10.0.0.2", "x.example.com")]);
  // Each frontend looks its own port's keys up.
  assertIncludes(
    a.text,
    "use_backend %[var(txn.host),concat(:8080),map_str(/etc/haproxy/haproxy.cfg.hosts.map)]",
  );
  assertEquals(a.map, [["x.example.com:8080", "hosts_1"]]);
  const b = step([
    on8080("x1", "10.0.0.2", "x.example.com"),
    on8080("y1", "10.0.0.3", "y.example.com"),
  ], a.assignment);
  assertEquals(plan(a, b), [
    "add hosts_2/y1:8080 10.0.0.3:8080 weight 100",
    "map y.example.com:8080 hosts_2",
  ]);
  // The same host on another port: a new frontend, so a reload.
  const c = step([
    on8080("x1", "10.0.0.2", "x.example.com"),
    on8080("y1", "10.0.0.3", "y.example.com"),
    web("x2", "10.0.0.4", labels({ glue_http_80_host: "x.example.com" })),
  ], b.assignment);
  assertEquals(plan(b, c)[0]?.startsWith("reload"), true, plan(b, c)[0]);
  assertEquals(c.map, [
    ["x.example.com:80", "hosts_3"],
    ["x.example.com:8080", "hosts_1"],
    ["y.example.com:8080", "hosts_2"],
  ]);
});
