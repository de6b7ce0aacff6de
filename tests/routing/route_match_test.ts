import { assertEquals, assertThrows } from "../_fixtures/assert.ts";
import { matchKey, parseMatch } from "../../lib/routing/route_match.ts";
import { buildRoutes } from "../../lib/routing/routes.ts";
import { isPlainHost } from "../../lib/haproxy/model/pool.ts";
import { settingWords } from "../../lib/routing/route_settings.ts";
import { container, created, ip, labels } from "../_fixtures/containers.ts";
import { warningsOf } from "../_fixtures/routes.ts";

Deno.test("match: a header (without case) or a cookie with one value; anything else refused with the value quoted", () => {
  assertEquals(parseMatch("header:X-Canary=1"), {
    kind: "header",
    name: "X-Canary",
    value: "1",
  });
  assertEquals(parseMatch("cookie:canary=always=yes"), {
    kind: "cookie",
    name: "canary",
    value: "always=yes",
  });
  assertEquals(
    matchKey(parseMatch("header:X-Canary=1")),
    matchKey(parseMatch("header:x-canary=1")),
  );
  for (
    const [bad, why] of [
      ["X-Canary=1", "expected header:<Name>=<value>"],
      ["query:a=1", "expected header:<Name>=<value>"],
      ["header:X-Canary", "expected header:<Name>=<value>"],
      ["header:X Canary=1", "Invalid header name"],
      ["header:Host=a", "cannot be set by a label"],
      ["header:Cookie=a", "match a cookie with cookie:"],
      ["cookie:a b=1", "a cookie name takes"],
      ["header:X-Canary=", "the value takes"],
      ["header:X-Canary=a b", "the value takes"],
      ["header:X-Canary=a}", "the value takes"],
      ['cookie:c="1"', "the value takes"],
      ["header:X-Canary=1\n", "the value takes"],
    ] as const
  ) {
    assertThrows(() => parseMatch(bad), TypeError, why);
  }
});

Deno.test("match routes: a route of their own beside the rest, tried first, never pooled, with options of their own and no conflict", () => {
  const table = buildRoutes([
    container(
      "stable",
      ip("10.0.0.2"),
      created("2026-01-01T00:00:00Z"),
      labels({ glue_http_80_host: "app.example.com" }),
    ),
    container(
      "canary",
      ip("10.0.0.3"),
      created("2026-01-02T00:00:00Z"),
      labels({
        glue_http_80_host: "app.example.com",
        glue_http_80_match: "header:X-Canary=1",
        glue_http_80_timeout: "5s",
      }),
    ),
    container(
      "tester",
      ip("10.0.0.4"),
      created("2026-01-03T00:00:00Z"),
      labels({
        glue_http_80_host: "app.example.com",
        glue_http_80_match: "cookie:canary=1",
      }),
    ),
  ]);
  assertEquals(warningsOf(table), []);
  assertEquals(
    table.routes.map((route) => [
      route.backend,
      route.servers.map((s) => s.containerName).join(","),
      isPlainHost(route),
    ]),
    [
      ["http_app.example.com..cookie.canary.1", "tester", false],
      ["http_app.example.com..header.x-canary.1", "canary", false],
      ["http_app.example.com", "stable", true],
    ],
  );
  assertEquals(settingWords(table.routes[1]!.settings), ["timeout=5s"]);
  // A bad match drops that port's route only, naming the label.
  const bad = buildRoutes([
    container(
      "typo",
      ip("10.0.0.5"),
      labels({
        glue_http_80_host: "app.example.com",
        glue_http_80_match: "header:X-Canary",
      }),
    ),
  ]);
  assertEquals(bad.routes, []);
  assertEquals(warningsOf(bad).length, 1);
  assertEquals(warningsOf(bad)[0]!.includes("glue_http_80_match"), true);
});
