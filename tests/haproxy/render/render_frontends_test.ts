/**
 * The template's HTTPS frontend and per-port frontends, checked with
 * haproxy -c.
 */

import {
  assertEquals,
  assertExcludes,
  assertIncludes,
  assertTrue,
} from "../../_fixtures/assert.ts";
import { haproxyCheck } from "../../_fixtures/haproxy.ts";
import { container, exposes, ip, labels } from "../../_fixtures/containers.ts";
import { Renderer } from "../../../lib/haproxy/render/render.ts";
import { buildRoutes } from "../../../lib/routing/routes.ts";
import { createSelfSigned } from "../../../lib/tls/self_signed.ts";
import { EMPTY_POOL, mapText } from "../../../lib/haproxy/model/pool.ts";
import { assignPool } from "../../../lib/haproxy/model/host_pool.ts";
import { DEFAULT_TEMPLATE_DIRS } from "../../../lib/haproxy/render/builtin_templates.ts";
import { listen, readme } from "../../_fixtures/render.ts";

Deno.test("render: HTTPS with host maps, redirects, ACME map and certificates passes haproxy -c", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const pem = await createSelfSigned(new Date());
    await Deno.writeTextFile(`${dir}/default.pem`, pem);
    await Deno.writeTextFile(`${dir}/a.pem`, pem);
    await Deno.writeTextFile(`${dir}/crt-list`, `${dir}/a.pem\n`);
    const maps = {
      http: `${dir}/hosts.map`,
      https: `${dir}/https.map`,
      redirect: `${dir}/redirect.map`,
      acme: `${dir}/acme.map`,
    };
    const renderer = new Renderer(
      { dirs: DEFAULT_TEMPLATE_DIRS, file: "haproxy.cfg.njk" },
      {
        ...listen,
        maps,
        httpsBind: ["127.0.0.1:18443"],
        crtList: `${dir}/crt-list`,
        cookieKey: "0123456789abcdef0123456789abcdef",
      },
    );
    const secure = (
      name: string,
      address: string,
      more: Record<string, string>,
    ) => container(name, ip(address), labels(more));
    const { table } = assignPool(
      buildRoutes([
        ...readme,
        secure("tls", "10.0.1.1", {
          glue_http_80_host: "tls.example.org",
          glue_http_80_tls: "1",
          glue_http_80_sticky: "1",
          glue_http_80_check: "/healthz",
        }),
        secure("moved", "10.0.1.2", {
          glue_http_80_host: "moved.example.org",
          glue_http_80_redirect_https: "1",
          glue_http_80_balance: "source",
        }),
        secure("prefixed", "10.0.1.3", {
          glue_http_80_host: "p.example.org",
          glue_http_80_prefix: "app",
          glue_http_80_redirect_https: "1",
          glue_http_80_maxconn: "20",
        }),
      ], { https: true }),
      EMPTY_POOL,
    );
    await Deno.writeTextFile(maps.http, mapText(table.maps.http));
    await Deno.writeTextFile(maps.https, mapText(table.maps.https));
    await Deno.writeTextFile(maps.redirect, mapText(table.maps.redirect));
    await Deno.writeTextFile(maps.acme, "token123 token123.thumb\n");
    const text = renderer.render({
      ...table,
      defaultCert: `${dir}/default.pem`,
    });
    const check = await haproxyCheck(text);
    assertTrue(check.ok, check.output);
    assertEquals(table.maps.https.map(([host]) => host), [
      "moved.example.org",
      "tls.example.org",
    ]);
    assertEquals(table.maps.redirect.map(([host]) => host), [
      "moved.example.org",
    ]);
    // Redirected hosts are not served on plain HTTP.
    assertTrue(!table.maps.http.some(([host]) => host === "moved.example.org"));
    assertIncludes(
      text,
      `bind 127.0.0.1:18443 ssl crt ${dir}/default.pem crt-list ${dir}/crt-list alpn h2,http/1.1`,
    );
    assertIncludes(
      text,
      "http-request redirect location https://%[var(txn.host)]:18443%[capture.req.uri] code 301 if http_p.example.org_app_host http_p.example.org_app_path",
    );
    assertIncludes(
      text,
      "server prefixed:80 10.0.1.3:80 weight 100 maxconn 20 check",
    );
    assertIncludes(text, "hash-type consistent");
    assertIncludes(
      text,
      "http-check send meth GET uri /healthz ver HTTP/1.1 hdr Host tls.example.org",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** The per-port frontend of `port` in a rendered configuration. */
function perPortFrontend(text: string, port: number): string {
  return text.slice(text.indexOf(`frontend http_${port}\n`)).split("\n\n")[0]!;
}

Deno.test("render: per-port frontends listen on each label port at the --http-bind addresses, each with its own routes", async () => {
  const containers = [
    container(
      "web",
      ip("10.0.0.2"),
      labels({ glue_http_80_host: "a.example.com" }),
    ),
    container(
      "admin",
      ip("10.0.0.3"),
      exposes("80/tcp", "8080/tcp"),
      labels({ glue_http_8080_host: "a.example.com" }),
    ),
    container(
      "api",
      ip("10.0.0.4"),
      exposes("80/tcp", "8080/tcp"),
      labels({ glue_http_8080_host: "", glue_http_8080_prefix: "api" }),
    ),
    container(
      "db",
      ip("10.0.0.5"),
      exposes("80/tcp", "8080/tcp"),
      labels({ glue_tcp_ports: "8080" }),
    ),
  ];
  const table = buildRoutes(containers, { perPortFrontends: true });
  // The same host on two ports is two routes; TCP cannot take an HTTP port.
  assertEquals(
    table.routes.map((r) => `${r.listen} ${r.host}${r.prefix} ${r.backend}`),
    [
      "80 a.example.com http_80_a.example.com",
      "8080 a.example.com http_8080_a.example.com",
      "8080 /api http_8080_default_api",
    ],
  );
  assertEquals(table.tcpRoutes, []);
  assertEquals(table.findings.map((f) => [f.container, f.reason]), [[
    "db",
    "conflict",
  ]]);
  const r = new Renderer(
    { dirs: DEFAULT_TEMPLATE_DIRS, file: "haproxy.cfg.njk" },
    {
      ...listen,
      httpBind: ["127.0.0.1:18080", "[::1]:18080 v6only"],
      perPortFrontends: true,
    },
  );
  const text = r.render(table);
  const frontend = (port: number) => perPortFrontend(text, port);
  assertIncludes(
    frontend(80),
    "bind 127.0.0.1:80\n    bind [::1]:80 v6only",
  );
  assertIncludes(frontend(80), "use_backend http_80_a.example.com");
  assertExcludes(frontend(80), "8080");
  assertIncludes(frontend(8080), "bind 127.0.0.1:8080");
  assertIncludes(frontend(8080), "use_backend http_8080_default_api");
  assertExcludes(text, "frontend http\n");
  const check = await haproxyCheck(text);
  assertTrue(check.ok, check.output);
});

Deno.test("routes: with per-port frontends a label port on the stats or HTTPS port is refused", () => {
  const table = buildRoutes([
    container(
      "s",
      exposes("8404/tcp"),
      labels({ glue_http_8404_host: "s.example.com" }),
    ),
  ], { perPortFrontends: true, reservedPorts: [8404] });
  assertEquals(table.routes, []);
  assertIncludes(table.findings[0]!.message, "stats or HTTPS listener");
});

Deno.test("render: per-port frontends with the host map and HTTPS pass haproxy -c; routes on HTTPS keep their ACLs", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const pem = await createSelfSigned(new Date());
    await Deno.writeTextFile(`${dir}/default.pem`, pem);
    await Deno.writeTextFile(`${dir}/crt-list`, "");
    const hostMap = `${dir}/hosts.map`;
    const renderer = new Renderer(
      { dirs: DEFAULT_TEMPLATE_DIRS, file: "haproxy.cfg.njk" },
      {
        ...listen,
        perPortFrontends: true,
        maps: { http: hostMap },
        httpsBind: ["127.0.0.1:18443"],
        crtList: `${dir}/crt-list`,
      },
    );
    const { table } = assignPool(
      buildRoutes([
        container(
          "web",
          ip("10.0.0.2"),
          labels({ glue_http_80_host: "a.example.com" }),
        ),
        container(
          "admin",
          ip("10.0.0.3"),
          exposes("8080/tcp"),
          labels({ glue_http_8080_host: "a.example.com" }),
        ),
        container(
          "shop",
          ip("10.0.0.4"),
          exposes("8080/tcp"),
          labels({
            glue_http_8080_host: "shop.example.com",
            glue_http_8080_tls: "1",
          }),
        ),
      ], { perPortFrontends: true, https: true }),
      EMPTY_POOL,
    );
    await Deno.writeTextFile(hostMap, mapText(table.maps.http));
    const text = renderer.render({
      ...table,
      defaultCert: `${dir}/default.pem`,
    });
    const check = await haproxyCheck(text);
    assertTrue(check.ok, check.output);
    // The same host on two ports: two keys of one map.
    assertEquals(table.maps.http, [
      ["a.example.com:80", "hosts_1"],
      ["a.example.com:8080", "hosts_2"],
    ]);
    assertEquals(table.maps.https, []);
    assertIncludes(
      text,
      "acl http_8080_shop.example.com_host var(txn.host) -m str shop.example.com",
    );
    const frontend = (port: number) => perPortFrontend(text, port);
    assertIncludes(frontend(8080), "var(txn.host),concat(:8080),map_str(");
    assertIncludes(frontend(80), "var(txn.host),concat(:80),map_str(");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
