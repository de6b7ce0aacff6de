import { assertEquals, assertIncludes } from "../_fixtures/assert.ts";
import { container, labels } from "../_fixtures/containers.ts";
import {
  formatReport,
  routeReport,
  stateName,
} from "../../lib/report/report.ts";
import { buildRoutes } from "../../lib/routing/routes.ts";
import type { ServerState } from "../../lib/haproxy/io/runtime.ts";

function state(
  backend: string,
  name: string,
  opState: number,
  adminState = 0,
  weight = 100,
): ServerState {
  return {
    backend,
    name,
    address: "10.0.0.2",
    port: 80,
    weight,
    opState,
    adminState,
  };
}

Deno.test("report: HAProxy's server states are named as an operator says them", () => {
  assertEquals(stateName(state("b", "s", 2)), "up");
  assertEquals(stateName(state("b", "s", 0)), "down");
  assertEquals(stateName(state("b", "s", 1)), "starting");
  assertEquals(stateName(state("b", "s", 2, 0x01)), "maint");
  assertEquals(stateName(state("b", "s", 2, 0x20)), "maint");
  assertEquals(stateName(state("b", "s", 2, 0x08)), "drain");
  // A stopping container drains by weight 0.
  assertEquals(stateName(state("b", "s", 2, 0, 0)), "drain");
});

Deno.test("report: servers carry HAProxy's state, found in the pool backend a host map names; missing ones are absent", () => {
  const table = buildRoutes([
    container("a", labels({ glue_http_80_host: "a.example.com" })),
    container("b", labels({ glue_http_80_host: "b.example.com" })),
    container(
      "api",
      labels({ glue_http_80_host: "a.example.com", glue_http_80_prefix: "v1" }),
    ),
  ]);
  const report = routeReport(table, [], {
    states: [
      state("hosts_7", "a:80", 2),
      state("http_a.example.com_v1", "api:80", 0),
    ],
    hostBackends: new Map([["a.example.com", "hosts_7"]]),
  });
  const states = report.routes.map((r) =>
    `${r.host}${r.prefix} ${r.backend} ${r.servers.map((s) => s.state)}`
  );
  assertEquals(states, [
    "a.example.com/v1 http_a.example.com_v1 down",
    "a.example.com hosts_7 up",
    "b.example.com http_b.example.com absent",
  ]);
  const unknown = routeReport(table, [], {
    states: null,
    hostBackends: new Map(),
    error: "no admin socket",
  });
  assertEquals(unknown.routes[0]!.servers[0]!.state, "unknown");
  const text = formatReport(unknown);
  assertIncludes(text, "State unknown: no admin socket");
  const lines = text.split("\n");
  const at = lines[0]!.indexOf("STATE");
  // No options on this route: the last column says so.
  assertEquals(lines[1]!.slice(at), "unknown  -");
});
