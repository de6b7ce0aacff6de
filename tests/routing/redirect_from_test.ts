import { assertEquals } from "../_fixtures/assert.ts";
import { buildRoutes } from "../../lib/routing/routes.ts";
import { isPlainHost } from "../../lib/haproxy/model/pool.ts";
import { settingWords } from "../../lib/routing/route_settings.ts";
import { container, created, ip, labels } from "../_fixtures/containers.ts";
import { warningsOf } from "../_fixtures/routes.ts";

Deno.test("redirect_from: each name a route of its own that redirects to the first host, TLS as the route's, never pooled", () => {
  const table = buildRoutes([
    container(
      "site",
      ip("10.0.0.2"),
      labels({
        glue_http_80_host: "example.com,example.org",
        glue_http_80_tls: "1",
        glue_http_80_redirect_from: "www.example.com, old.example.com",
      }),
    ),
  ], { https: true });
  assertEquals(warningsOf(table), []);
  assertEquals(
    table.routes.map((route) => [
      route.host,
      route.settings.redirectTo,
      route.settings.tls,
      isPlainHost(route),
    ]),
    [
      ["old.example.com", "example.com", true, false],
      ["www.example.com", "example.com", true, false],
      ["example.com", "", true, true],
      ["example.org", "", true, true],
    ],
  );
  assertEquals(settingWords(table.routes[0]!.settings), [
    "redirect_from=308 to example.com",
    "tls=1",
  ]);
});

Deno.test("redirect_from: a name another container serves is a conflict the older container wins, either way round", () => {
  const www = container(
    "www",
    ip("10.0.0.3"),
    labels({ glue_http_80_host: "www.example.com" }),
  );
  const site = container(
    "site",
    ip("10.0.0.2"),
    labels({
      glue_http_80_host: "example.com",
      glue_http_80_redirect_from: "www.example.com",
    }),
  );
  const olderWww = buildRoutes([
    { ...www, created: "2026-01-01T00:00:00Z" },
    { ...site, created: "2026-01-02T00:00:00Z" },
  ]);
  const served = olderWww.routes.find((r) => r.host === "www.example.com");
  assertEquals(served?.settings.redirectTo, "");
  assertEquals(served?.servers.map((s) => s.containerName), ["www"]);
  assertEquals(warningsOf(olderWww).length, 1);
  assertEquals(
    warningsOf(olderWww)[0]!.includes("glue_http_80_redirect_from"),
    true,
  );
  const olderSite = buildRoutes([
    { ...www, created: "2026-01-02T00:00:00Z" },
    { ...site, created: "2026-01-01T00:00:00Z" },
  ]);
  const alias = olderSite.routes.find((r) => r.host === "www.example.com");
  assertEquals(alias?.settings.redirectTo, "example.com");
  assertEquals(alias?.servers.map((s) => s.containerName), ["site"]);
  assertEquals(warningsOf(olderSite).length, 1);
});

Deno.test("redirect_from: a wildcard, one of the route's hosts, or no host to send them to is refused, naming the label", () => {
  for (
    const [host, aliases] of [
      ["example.com", "*.example.com"],
      ["example.com", "example.com"],
      ["*.example.com", "www.example.com"],
      ["", "www.example.com"],
    ]
  ) {
    const table = buildRoutes([
      container(
        "c",
        ip("10.0.0.2"),
        created("2026-01-01T00:00:00Z"),
        labels({
          glue_http_80_host: host!,
          glue_http_80_redirect_from: aliases!,
        }),
      ),
    ]);
    assertEquals(table.routes, [], `${host} ${aliases}`);
    assertEquals(
      warningsOf(table)[0]?.includes("glue_http_80_redirect_from"),
      true,
      warningsOf(table).join("\n"),
    );
  }
});
