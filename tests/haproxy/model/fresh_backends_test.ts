import { assertEquals } from "../../_fixtures/assert.ts";
import { freshBackends } from "../../../lib/haproxy/model/fresh_backends.ts";
import type { ContainerRecord } from "../../../lib/docker/container.ts";
import { container } from "../../_fixtures/containers.ts";
import { serverOf } from "../../_fixtures/routes.ts";

const T0 = Date.parse("2026-12-07T12:00:00Z");

function started(name: string, at: number): ContainerRecord {
  return { ...container(name), startedAt: new Date(at).toISOString() };
}

Deno.test("fresh backends: those whose servers all started within the window, until the oldest of them leaves it; not one with an older server, nor one without servers", () => {
  const old = started("old", T0 - 60_000);
  const a = started("a", T0 - 2_000);
  const b = started("b", T0 - 1_000);
  const records = new Map([old, a, b].map((r) => [r.id, r]));
  const backends = [
    { backend: "hosts_2", servers: [serverOf(a), serverOf(b)] },
    { backend: "hosts_1", servers: [serverOf(b)] },
    { backend: "joined", servers: [serverOf(old), serverOf(b)] },
    { backend: "spare", servers: [] },
  ];
  const fresh = freshBackends(backends, (id) => records.get(id), T0, null);
  assertEquals(fresh.entries, [["hosts_1", "10.0.0.2:80"], [
    "hosts_2",
    "10.0.0.2:80,10.0.0.2:80",
  ]]);
  assertEquals(fresh.recheckAt, T0 - 2_000 + 10_000);
  // Nothing changed: the same entries, so the planner sees no change.
  const again = freshBackends(backends, (id) => records.get(id), T0 + 1, fresh);
  assertEquals(again.entries === fresh.entries, true);
  const later = freshBackends(
    backends,
    (id) => records.get(id),
    T0 + 8_500,
    again,
  );
  assertEquals(later.entries, [["hosts_1", "10.0.0.2:80"]]);
  assertEquals(
    freshBackends(backends, (id) => records.get(id), T0 + 9_000, later),
    { entries: [], recheckAt: undefined },
  );
  // A container whose start is not known is never fresh.
  assertEquals(
    freshBackends(
      [{ backend: "x", servers: [serverOf(container("unknown"))] }],
      () => undefined,
      T0,
      null,
    ).entries,
    [],
  );
});

Deno.test("fresh backends: a draining server (its container stopping) is not waited for; a backend with only such servers is not held", () => {
  const a = started("a", T0 - 1_000);
  const b = started("b", T0 - 1_000);
  const records = new Map([a, b].map((r) => [r.id, r]));
  const draining = { ...serverOf(b), address: "10.0.0.3", draining: true };
  const fresh = freshBackends(
    [
      { backend: "hosts_1", servers: [serverOf(a), draining] },
      { backend: "hosts_2", servers: [draining] },
    ],
    (id) => records.get(id),
    T0,
    null,
  );
  assertEquals(fresh.entries, [["hosts_1", "10.0.0.2:80"]]);
});
