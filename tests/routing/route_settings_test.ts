/**
 * The route options of issue #11 (tls, redirect_https, check, balance,
 * sticky, maxconn): validated like the other labels, carried on the route,
 * and decided by the oldest container when containers disagree.
 */

import {
  assertEquals,
  assertIncludes,
  assertThrows,
} from "../_fixtures/assert.ts";
import { container, created, ip, labels } from "../_fixtures/containers.ts";
import { buildRoutes } from "../../lib/routing/routes.ts";
import { DEFAULT_ROUTE_SETTINGS } from "../../lib/routing/route_settings.ts";
import {
  parseBalance,
  parseCheckPath,
  parseMaxconn,
} from "../../lib/routing/labels.ts";

Deno.test("check paths: absolute URL paths with an optional query", () => {
  assertEquals(parseCheckPath("/healthz"), "/healthz");
  assertEquals(parseCheckPath("/status?full=1&x=%20"), "/status?full=1&x=%20");
  for (
    const bad of [
      "healthz",
      "/a b",
      "/a#b",
      "/a\n",
      "/'x'",
      '/"',
      "/\\",
      "/%zz",
      "",
    ]
  ) {
    assertThrows(() => parseCheckPath(bad), TypeError, "Invalid check path");
  }
});

Deno.test("balance: only algorithms that take servers at runtime", () => {
  for (const ok of ["roundrobin", "leastconn", "random", "source"]) {
    assertEquals(parseBalance(ok), ok);
  }
  for (const bad of ["uri", "first", "static-rr", "LEASTCONN", "source "]) {
    assertThrows(() => parseBalance(bad), TypeError, "Invalid balance");
  }
});

Deno.test("maxconn: 1 to 1000000", () => {
  assertEquals(parseMaxconn("1"), 1);
  assertEquals(parseMaxconn("1000000"), 1_000_000);
  for (const bad of ["0", "1000001", "01", "-1", "1e3", ""]) {
    assertThrows(() => parseMaxconn(bad), RangeError, "Invalid maxconn");
  }
});

const web = (name: string, when: string, extra: Record<string, string>) =>
  container(
    name,
    ip(`10.0.0.${name.length}`),
    created(when),
    labels({ glue_http_80_host: "a.example.com", ...extra }),
  );

Deno.test("route settings: carried from the labels; redirect_https implies tls", () => {
  const table = buildRoutes([
    web("w", "2026-01-01T00:00:00Z", {
      glue_http_80_redirect_https: "1",
      glue_http_80_check: "/healthz",
      glue_http_80_balance: "leastconn",
      glue_http_80_sticky: "1",
      glue_http_80_maxconn: "50",
    }),
  ], { https: true });
  const route = table.routes[0];
  assertEquals(route?.settings, {
    ...DEFAULT_ROUTE_SETTINGS,
    stripPrefix: false,
    tls: true,
    redirectHttps: true,
    check: "/healthz",
    balance: "leastconn",
    sticky: true,
  });
  assertEquals(route?.servers[0]?.maxconn, 50);
  assertEquals(table.findings, []);
});

Deno.test("route settings: without an HTTPS frontend tls is a note and the route stays on HTTP", () => {
  const table = buildRoutes([
    web("w", "2026-01-01T00:00:00Z", { glue_http_80_tls: "1" }),
  ]);
  assertEquals(table.routes[0]?.settings.tls, false);
  assertEquals(table.routes[0]?.servers.length, 1);
  assertEquals(table.findings.map((f) => [f.severity, f.label]), [[
    "info",
    "glue_http_80_tls",
  ]]);
  assertIncludes(table.findings[0]?.message ?? "", "--https-bind");
});

Deno.test("route settings: containers that disagree lose to the oldest, with a warning naming both", () => {
  for (
    const [suffix, older, younger] of [
      ["tls", "1", "0"],
      ["redirect_https", "0", "1"],
      ["check", "/healthz", "/other"],
      ["balance", "source", "roundrobin"],
      ["sticky", "1", "0"],
    ]
  ) {
    const table = buildRoutes([
      web("young", "2026-03-01T00:00:00Z", {
        [`glue_http_80_${suffix}`]: younger!,
      }),
      web("old", "2026-02-01T00:00:00Z", {
        [`glue_http_80_${suffix}`]: older!,
      }),
    ], { https: true });
    assertEquals(
      table.routes[0]?.servers.map((s) => s.containerName),
      ["old"],
      suffix,
    );
    const warning = table.findings.find((f) => f.severity === "warning");
    assertEquals(warning?.label, `glue_http_80_${suffix}`);
    assertIncludes(warning?.message ?? "", "older container old");
    assertEquals(warning?.container, "young");
  }
});

Deno.test("route settings: maxconn is per server; containers may differ", () => {
  const table = buildRoutes([
    web("small", "2026-01-01T00:00:00Z", { glue_http_80_maxconn: "10" }),
    web("large", "2026-01-02T00:00:00Z", { glue_http_80_maxconn: "500" }),
  ]);
  assertEquals(
    table.routes[0]?.servers.map((s) => `${s.containerName}:${s.maxconn}`),
    ["large:500", "small:10"],
  );
  assertEquals(table.findings, []);
});

Deno.test("route settings: a bad option value drops that port's route and names the label", () => {
  const table = buildRoutes([
    web("bad", "2026-01-01T00:00:00Z", { glue_http_80_balance: "uri" }),
  ], { https: true });
  assertEquals(table.routes, []);
  assertEquals(table.findings[0]?.label, "glue_http_80_balance");
  assertIncludes(table.findings[0]?.message ?? "", '"uri"');
});
