/**
 * One owner per name on the HTTPS listener: a host served with tls and a
 * passthrough server name are one claim, and the oldest container keeps it,
 * whichever kind it is; the other is turned down with a conflict.
 */

import { assertEquals, assertIncludes } from "../_fixtures/assert.ts";
import {
  container,
  created,
  exposes,
  ip,
  labels,
} from "../_fixtures/containers.ts";
import { buildRoutes } from "../../lib/routing/routes.ts";
import { RouteBuilder } from "../../lib/routing/routes.ts";
import type { RouteTable } from "../../lib/routing/route_types.ts";

const HTTPS = { https: true, httpsPort: 8443 };

const shop = (when: string) =>
  container(
    "shop",
    ip("10.0.0.2"),
    created(when),
    labels({
      glue_http_80_host: "shop.example.com",
      glue_http_80_tls: "1",
      glue_http_80_allow: "10.0.0.0/8",
    }),
  );
const pass = (when: string, sni = "shop.example.com") =>
  container(
    "pass",
    ip("10.0.0.3"),
    created(when),
    exposes("18097/tcp"),
    labels({ glue_tcp_ports: "18097", glue_tcp_18097_sni: sni }),
  );

function served(table: RouteTable): string[] {
  return [
    ...table.routes.map((r) => `http ${r.host}`),
    ...table.tcpRoutes.map((r) => `sni ${r.sni}`),
  ].sort();
}

Deno.test("name owners: an older terminated host keeps its name against a newer passthrough", () => {
  const table = buildRoutes([
    shop("2026-01-01T00:00:00Z"),
    pass("2026-02-01T00:00:00Z"),
  ], HTTPS);
  assertEquals(served(table), ["http shop.example.com"]);
  const [finding] = table.findings;
  assertEquals(finding?.container, "pass");
  assertEquals(finding?.reason, "conflict");
  assertEquals(finding?.label, "glue_tcp_18097_sni");
  assertIncludes(finding?.message ?? "", "older container shop");
});

Deno.test("name owners: an older passthrough keeps its name against a newer tls host", () => {
  const table = buildRoutes([
    shop("2026-03-01T00:00:00Z"),
    pass("2026-02-01T00:00:00Z"),
  ], HTTPS);
  assertEquals(served(table), ["sni shop.example.com"]);
  assertEquals(table.findings.map((f) => `${f.container} ${f.label}`), [
    "shop glue_http_80_host",
  ]);
});

Deno.test("name owners: a wildcard is not the same name; a plain HTTP host shares nothing with passthrough", () => {
  const plain = container(
    "plain",
    ip("10.0.0.4"),
    created("2026-01-01T00:00:00Z"),
    labels({ glue_http_80_host: "shop.example.com" }),
  );
  const table = buildRoutes([
    shop("2026-01-01T00:00:00Z"),
    pass("2026-02-01T00:00:00Z", "*.example.com"),
  ], HTTPS);
  assertEquals(served(table), ["http shop.example.com", "sni *.example.com"]);
  assertEquals(table.findings, []);
  const alone = buildRoutes([plain, pass("2026-02-01T00:00:00Z")], HTTPS);
  assertEquals(served(alone), [
    "http shop.example.com",
    "sni shop.example.com",
  ]);
});

Deno.test("name owners: the incremental builder hands the name over when its owner goes, and back", () => {
  const builder = new RouteBuilder(HTTPS);
  const older = shop("2026-01-01T00:00:00Z");
  const newer = pass("2026-02-01T00:00:00Z");
  assertEquals(served(builder.build([older, newer])), [
    "http shop.example.com",
  ]);
  assertEquals(served(builder.build([newer])), ["sni shop.example.com"]);
  const both = builder.build([newer, older]);
  assertEquals(served(both), ["http shop.example.com"]);
  assertEquals(both, buildRoutes([newer, older], HTTPS));
});
