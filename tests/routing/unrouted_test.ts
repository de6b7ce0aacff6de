import { assertEquals, assertIncludes } from "../_fixtures/assert.ts";
import { container, labels, onHost } from "../_fixtures/containers.ts";
import { countByReason, unroutedOf } from "../../lib/routing/unrouted.ts";
import { buildRoutes } from "../../lib/routing/routes.ts";

Deno.test("unrouted: each container that asks for a route and has none gets one reason; unlabelled ones are not listed", () => {
  const all = [
    container("ok", labels({ glue_http_80_host: "a.example.com" })),
    container("plain"),
    container("paused", labels({ glue_http_80_host: "p.example.com" }), (r) => {
      r.paused = true;
    }),
    container("sick", labels({ glue_http_80_host: "s.example.com" }), (r) => {
      r.health = "unhealthy";
    }),
    container("early", labels({ glue_http_80_host: "e.example.com" }), (r) => {
      r.health = "starting";
    }),
    container(
      "looping",
      labels({ glue_http_80_host: "l.example.com" }),
      (r) => {
        r.restartCount = 4;
      },
    ),
    container("typo", labels({ glue_http_80_host: "not a host" })),
    container(
      "closed",
      onHost("h2", "192.0.2.9"),
      labels({ glue_http_8080_host: "c.example.com" }),
    ),
    container(
      "lonely",
      labels({ glue_http_80_host: "n.example.com", glue_network: "nope" }),
    ),
    container(
      "younger",
      labels({ glue_http_80_host: "a.example.com", glue_http_80_sticky: "1" }),
    ),
  ];
  const damped = new Set([all[5]!.id]);
  const table = buildRoutes(all.filter((c) => !damped.has(c.id)));
  const rows = unroutedOf(all, table.findings, damped);
  assertEquals(rows.map((r) => [r.container, r.reason, r.label ?? ""]), [
    ["closed", "not-exposed", "glue_http_8080_host"],
    ["early", "starting", ""],
    ["lonely", "no-address", "glue_network"],
    ["looping", "damped", ""],
    ["paused", "paused", ""],
    ["sick", "unhealthy", ""],
    ["typo", "bad-label", "glue_http_80_host"],
    ["younger", "conflict", "glue_http_80_sticky"],
  ]);
  assertIncludes(rows[7]!.detail, "older container ok");
  assertEquals(countByReason(rows).get("conflict"), 1);
  assertEquals(countByReason(rows).get("not-published"), 0);
});
