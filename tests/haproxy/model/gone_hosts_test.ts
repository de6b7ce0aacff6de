import { assertEquals } from "../../_fixtures/assert.ts";
import { buildRoutes, RouteBuilder } from "../../../lib/routing/routes.ts";
import { GoneHosts } from "../../../lib/haproxy/model/gone_hosts.ts";
import { container, ip, labels } from "../../_fixtures/containers.ts";
import type { ContainerRecord } from "../../../lib/docker/container.ts";

const HOUR = 60 * 60 * 1000;

function web(name: string, host: string, prefix = ""): ContainerRecord {
  return container(
    name,
    ip("10.0.0.2"),
    labels({
      glue_http_80_host: host,
      ...(prefix === "" ? {} : { glue_http_80_prefix: prefix }),
    }),
  );
}

Deno.test("gone hosts: a host is gone once its last route goes, not before; it is forgotten after an hour or when it is routed again; wildcards and the default route never are", () => {
  const builder = new RouteBuilder({});
  const gone = new GoneHosts(HOUR);
  const step = (containers: ContainerRecord[], now: number) => {
    const table = builder.build(containers);
    gone.update(table.routes, builder.changes, now);
    return gone.entries.map(([host]) => host);
  };
  const a = web("a", "a.example.com");
  const aApi = web("a-api", "a.example.com", "/api");
  const b = web("b", "b.example.com");
  const wild = web("w", "*.example.org");
  assertEquals(step([a, aApi, b, wild], 0), []);
  // One of a's two routes goes: a is still served.
  assertEquals(step([a, b, wild], 1000), []);
  assertEquals(step([b], 2000), ["a.example.com"]);
  assertEquals(gone.recheckAt, 2000 + HOUR);
  assertEquals(step([], 3000), ["a.example.com", "b.example.com"]);
  // Routed again: no longer gone.
  assertEquals(step([b], 4000), ["a.example.com"]);
  assertEquals(step([b], 2000 + HOUR), []);
  assertEquals(gone.recheckAt, undefined);
});

Deno.test("gone hosts: without the changes (a whole build) the tables are compared", () => {
  const gone = new GoneHosts(HOUR);
  gone.update(buildRoutes([web("a", "a.example.com")]).routes, null, 0);
  gone.update(buildRoutes([web("b", "b.example.com")]).routes, null, 10);
  assertEquals(gone.entries, [["a.example.com", "down"]]);
  const entries = gone.entries;
  gone.update(buildRoutes([web("b", "b.example.com")]).routes, null, 20);
  // Nothing changed: the same entries, for the planner to skip.
  assertEquals(gone.entries === entries, true);
});

Deno.test("gone hosts: a running container that serves nothing yet (its health check not passed) makes its host down, not missing, until it serves", () => {
  const builder = new RouteBuilder({});
  const gone = new GoneHosts(HOUR);
  const step = (containers: ContainerRecord[]) => {
    const table = builder.build(containers);
    gone.update(table.routes, builder.changes, 0, builder.idleHosts);
    return gone.entries.map(([host]) => host);
  };
  const starting = {
    ...web("s", "s.example.com"),
    health: "starting" as const,
  };
  assertEquals(step([starting]), ["s.example.com"]);
  assertEquals(step([{ ...starting, health: "healthy" }]), []);
});

Deno.test("gone hosts: those an earlier run had are gone from the restart for an hour, unless routed again", () => {
  const builder = new RouteBuilder({});
  const gone = new GoneHosts(HOUR);
  gone.seed(["a.example.com", "b.example.com"], 5000);
  const table = builder.build([web("b", "b.example.com")]);
  gone.update(table.routes, null, 5000);
  assertEquals(gone.entries, [["a.example.com", "down"]]);
  assertEquals(gone.recheckAt, 5000 + HOUR);
});
