/**
 * The route table kept up to date against the table built whole: over
 * generated sequences of container sets, where a container that did not
 * change keeps its record object (as the inventory does), each update's
 * table is the one a new builder builds from nothing for the same
 * containers, also when
 * the builder is told only which ids changed; routes that did not change
 * are the same objects as before.
 */

import fc from "fast-check";
import { assertEquals, assertTrue } from "../_fixtures/assert.ts";
import {
  container,
  exposes,
  ip,
  labels,
  type Option,
} from "../_fixtures/containers.ts";
import type { ContainerRecord } from "../../lib/docker/container.ts";
import { ContainerRecords } from "../../lib/docker/records.ts";
import { buildRoutes, RouteBuilder } from "../../lib/routing/routes.ts";
import { recordsBy, stepsOf, syncRecords } from "../_fixtures/steps.ts";

const specArb = fc.record({
  id: fc.integer({ min: 1, max: 8 }),
  address: fc.integer({ min: 2, max: 4 }),
  host: fc.constantFrom("a.example.com", "b.example.com", "", "*.example.com"),
  port: fc.constantFrom(80, 80, 8080),
  // "/a/b" and "/a_b": names that a character-for-character rewrite would share.
  prefix: fc.constantFrom("", "", "/api", "/a/b", "/a_b"),
  weight: fc.constantFrom("100", "50", "bad"),
  balance: fc.constantFrom("", "", "leastconn"),
  tcp: fc.constantFrom("", "", "15432", "15432:8080"),
  // With --https-bind: a host on HTTPS, and TLS passthrough on the same
  // names, which one owner keeps (name_owners.ts).
  tls: fc.constantFrom("", "", "1"),
  sni: fc.constantFrom("", "a.example.com", "*.example.com"),
  created: fc.integer({ min: 1, max: 3 }),
  state: fc.constantFrom("running", "running", "stopping", "paused"),
});

type Spec = typeof specArb extends fc.Arbitrary<infer T> ? T : never;

const stepsArb = stepsOf(specArb, 6, 8);

/** A container of a spec. */
function recordOf(spec: Spec): ContainerRecord {
  const http = `glue_http_${spec.port}`;
  const given: Record<string, string> = {
    [`${http}_host`]: spec.host,
    [`${http}_weight`]: spec.weight,
  };
  if (spec.prefix !== "") given[`${http}_prefix`] = spec.prefix;
  if (spec.balance !== "") given[`${http}_balance`] = spec.balance;
  if (spec.tcp !== "") given.glue_tcp_ports = spec.tcp;
  if (spec.tls !== "") given[`${http}_tls`] = spec.tls;
  if (spec.sni !== "") given.glue_tcp_15432_sni = spec.sni;
  const state: Option = (r) => {
    r.created = `2026-01-01T00:00:0${spec.created}Z`;
    if (spec.state === "stopping") r.stopping = true;
    if (spec.state === "paused") r.paused = true;
  };
  return container(
    `c${spec.id}`,
    ip(`10.0.0.${spec.address}`),
    labels(given),
    exposes("80/tcp", "8080/tcp", "15432/tcp"),
    state,
  );
}

function property(perPortFrontends: boolean): void {
  fc.assert(
    fc.property(stepsArb, (steps) => {
      const options = { perPortFrontends, https: true, httpsPort: 8443 };
      const builder = new RouteBuilder(options);
      // A second builder told only which ids changed, by the journal of
      // records kept as the inventory keeps them.
      const journaled = new RouteBuilder(options);
      const records = new ContainerRecords();
      const journal = records.follow();
      const record = recordsBy(recordOf);
      let before = builder.build([]);
      for (const step of steps) {
        const containers = step.map(record);
        const table = builder.build(containers);
        assertEquals(table, buildRoutes(containers, options));
        syncRecords(records, containers);
        const changed = journal.take();
        assertEquals(
          changed === null
            ? journaled.build(records.list())
            : journaled.update(changed, (id) => journal.get(id)),
          table,
        );
        // A route equal to one of the last table is that object.
        for (const route of table.routes) {
          const was = before.routes.find((r) => r.backend === route.backend);
          if (
            was !== undefined && JSON.stringify(was) === JSON.stringify(route)
          ) {
            assertTrue(was === route, `${route.backend} was rebuilt`);
          }
        }
        before = table;
      }
    }),
    { numRuns: 300 },
  );
}

Deno.test("route builder: each update's table is the table built whole", () => {
  property(false);
});

Deno.test("route builder: the same with per-port frontends", () => {
  property(true);
});

Deno.test("route builder: a server joining one host leaves the other hosts' routes as they were", () => {
  const web = (name: string, address: string, host: string) =>
    container(name, ip(address), labels({ glue_http_80_host: host }));
  const a1 = web("a1", "10.0.0.2", "a.example.com");
  const b1 = web("b1", "10.0.0.3", "b.example.com");
  const builder = new RouteBuilder();
  const first = builder.build([a1, b1]);
  const second = builder.build([
    a1,
    b1,
    web("a2", "10.0.0.4", "a.example.com"),
  ]);
  const route = (table: typeof first, host: string) =>
    table.routes.find((r) => r.host === host);
  assertTrue(route(first, "b.example.com") === route(second, "b.example.com"));
  assertEquals(route(second, "a.example.com")?.servers.length, 2);
  assertTrue(
    builder.build([a1, b1, web("a2", "10.0.0.4", "a.example.com")]) !== second,
  );
});
