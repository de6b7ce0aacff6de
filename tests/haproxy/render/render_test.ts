/**
 * The template rendered from route tables, checked with haproxy -c.
 */

import {
  assertEquals,
  assertExcludes,
  assertIncludes,
  assertThrows,
  assertTrue,
} from "../../_fixtures/assert.ts";
import { haproxyCheck } from "../../_fixtures/haproxy.ts";
import {
  container,
  exposes,
  ip,
  labels,
  onHost,
} from "../../_fixtures/containers.ts";
import {
  NO_ROUTES,
  Renderer,
  TemplateError,
} from "../../../lib/haproxy/render/render.ts";
import { memoizer } from "../../../lib/haproxy/render/template_memo.ts";
import { buildRoutes } from "../../../lib/routing/routes.ts";
import {
  EMPTY_POOL,
  mapText,
  POOL_SPARE,
} from "../../../lib/haproxy/model/pool.ts";
import { assignPool } from "../../../lib/haproxy/model/host_pool.ts";
import {
  BUILTIN_DIR,
  DEFAULT_TEMPLATE_DIRS,
  GLUE_LUA,
} from "../../../lib/haproxy/render/builtin_templates.ts";
import { builtin, listen, readme } from "../../_fixtures/render.ts";

/** Listeners on loopback, for configurations `haproxy -c` checks. */
const LOOPBACK = {
  httpBind: ["127.0.0.1:18080"],
  statsBind: "",
  tcpBindAddress: "127.0.0.1",
};
const BUILTIN_FILE = { dirs: [BUILTIN_DIR], file: "haproxy.cfg.njk" };

Deno.test("render: the built-in template passes haproxy -c", async () => {
  const text = builtin().render(buildRoutes(readme));
  const check = await haproxyCheck(text);
  assertTrue(check.ok, check.output);
  assertIncludes(text, "bind 127.0.0.1:18080");
  assertIncludes(text, "listen stats");
  assertIncludes(text, "default_backend http_default");
  assertIncludes(
    text,
    "var(txn.host) -m str openstack.example.com",
  );
  assertIncludes(text, "-m end .example.com");
  assertIncludes(
    text,
    "http-request replace-path '^/v1\\.0/api/?(.*)$' '/\\1'",
  );
  assertExcludes(text, "reqrep");
  for (
    const line of text.split("\n").filter((l) => l.trim().startsWith("server "))
  ) {
    assertTrue(line.endsWith(" check"), line);
  }
});

Deno.test("render: TCP routes get a mode tcp frontend and backend per listen port", async () => {
  const table = buildRoutes([
    ...readme,
    container(
      "pg1",
      ip("10.0.0.7"),
      exposes("5432/tcp"),
      labels({
        glue_tcp_ports: "5432",
        glue_tcp_5432_weight: "3",
      }),
    ),
    container(
      "pg2",
      ip("10.0.0.8"),
      exposes("5432/tcp"),
      labels({ glue_tcp_ports: "5432" }),
    ),
  ]);
  const text = builtin().render(table);
  assertIncludes(
    text,
    "frontend tcp_5432\n    mode tcp\n    option tcplog\n    bind 127.0.0.1:5432\n    default_backend tcp_5432",
  );
  assertIncludes(text, "server pg1:5432 10.0.0.7:5432 weight 3 check");
  assertIncludes(text, "server pg2:5432 10.0.0.8:5432 weight 100 check");
  const check = await haproxyCheck(text);
  assertTrue(check.ok, check.output);
});

Deno.test("render: an empty table still passes haproxy -c", async () => {
  const check = await haproxyCheck(builtin().render(NO_ROUTES));
  assertTrue(check.ok, check.output);
});

Deno.test("render: no stats listener when its bind is empty", () => {
  const r = new Renderer({ dirs: [BUILTIN_DIR], file: "haproxy.cfg.njk" }, {
    httpBind: ["*:80"],
    statsBind: "",
    tcpBindAddress: "*",
  });
  assertExcludes(r.render(NO_ROUTES), "listen stats");
});

Deno.test("render: without trusted proxies every X-Forwarded-For is removed; with them it is read back to the client, the PROXY header expected from them, and haproxy -c passes", async () => {
  const [listen, file] = [LOOPBACK, BUILTIN_FILE];
  const table = buildRoutes(readme);
  const plain = new Renderer(file, listen).render(table);
  assertIncludes(plain, "    http-request del-header X-Forwarded-For\n");
  assertIncludes(
    plain,
    "    http-request set-header X-Real-IP %[var(txn.client)]\n",
  );
  assertExcludes(plain, "expect-proxy");
  const trusted = new Renderer(file, {
    ...listen,
    trustedProxies: ["10.0.0.0/8", "2001:db8::/32"],
    proxyProtocol: true,
  }).render(table);
  const ranges = "10.0.0.0/8 2001:db8::/32";
  for (
    const line of [
      `    tcp-request connection expect-proxy layer4 if { src ${ranges} }`,
      `    http-request del-header X-Forwarded-For unless { src ${ranges} }`,
      `    http-request set-var(txn.client) req.hdr_ip(X-Forwarded-For,-4) if { var(txn.client) -m ip ${ranges} } { req.hdr_ip(X-Forwarded-For,-4) -m found }`,
    ]
  ) assertIncludes(trusted, `${line}\n`);
  // The TCP frontends expect it too.
  assertEquals(
    trusted.split("\n").filter((l) => l.includes("expect-proxy")).length,
    1 + buildRoutes(readme).tcpRoutes.length,
  );
  const check = await haproxyCheck(trusted);
  assertTrue(check.ok, check.output);
});

Deno.test("render: --access-log gives every listener one JSON log line and a request id (a trusted proxy's kept), routes their names, and haproxy -c passes; without it none of this is written", async () => {
  const [listen, file] = [LOOPBACK, BUILTIN_FILE];
  const table = buildRoutes([
    ...readme,
    container(
      "db",
      labels({ glue_tcp_ports: "5432", glue_tcp_5432_listen: "15432" }),
    ),
  ]);
  const plain = new Renderer(file, listen).render(table);
  for (const absent of ["log-format", "X-Request-ID", "txn.route"]) {
    assertExcludes(plain, absent);
  }
  const logged = new Renderer(file, {
    ...listen,
    trustedProxies: ["10.0.0.0/8"],
    accessLog: "stdout format raw local0 info",
  }).render(table);
  const frontends = logged.split("\n").filter((l) => /^frontend /.test(l));
  // Each listener, HTTP and TCP, logs to the target in JSON.
  assertEquals(
    logged.split("\n").filter((l) =>
      l === "    log stdout format raw local0 info"
    ).length,
    frontends.length,
  );
  assertEquals(
    logged.split("\n").filter((l) => l.startsWith("    log-format '{")).length,
    frontends.length,
  );
  for (
    const line of [
      "    http-request del-header X-Request-ID unless { src 10.0.0.0/8 }",
      "    http-request set-header X-Request-ID %[uuid] unless { req.hdr(X-Request-ID) -m found }",
    ]
  ) assertIncludes(logged, `${line}\n`);
  // A route's own backend names its host and prefix; a TCP route its port.
  const prefixed = table.routes.find((r) => r.prefix !== "" && !r.mapped)!;
  assertIncludes(
    logged,
    `    http-request set-var-fmt(txn.route) ${
      prefixed.host || "*"
    }${prefixed.prefix}\n`,
  );
  const tcp = table.tcpRoutes[0]!;
  assertIncludes(
    logged,
    `    tcp-request content set-var-fmt(txn.route) ${tcp.listen}\n`,
  );
  const check = await haproxyCheck(logged);
  assertTrue(check.ok, check.output);
});

Deno.test("render: a request no route takes is 404, or 503 for a host gone lately (503 for all without the gone map); the operator's pages are HAProxy's error pages, and haproxy -c passes", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/503.html`, "<h1>down</h1>");
    await Deno.writeTextFile(`${dir}/gone.map`, "");
    const [listen, file] = [LOOPBACK, BUILTIN_FILE];
    const table = buildRoutes(readme);
    const plain = new Renderer(file, listen).render(table);
    assertIncludes(
      plain,
      "backend glue_no_route\n    # Without the runtime API",
    );
    assertIncludes(
      plain,
      "    http-request return status 503 default-errorfiles\n",
    );
    assertExcludes(plain, "status 404");
    assertExcludes(plain, "http-error");
    const text = new Renderer(file, {
      ...listen,
      maps: { gone: `${dir}/gone.map` },
      errorPages: [{ status: 503, file: `${dir}/503.html` }],
    }).render(table);
    for (
      const line of [
        `    http-error status 503 content-type "text/html; charset=utf-8" file ${dir}/503.html`,
        `    http-request return status 503 default-errorfiles if { var(txn.host),map_str(${dir}/gone.map) -m found }`,
        "    http-request return status 404 default-errorfiles",
      ]
    ) assertIncludes(text, `${line}\n`);
    // Every HTTP listener falls back to it, unless a route takes every request.
    const frontends = text.split("\n").filter((l) => /^frontend http/.test(l));
    assertEquals(
      text.split("\n").filter((l) => l === "    default_backend glue_no_route")
        .length,
      frontends.length,
    );
    const check = await haproxyCheck(text);
    assertTrue(check.ok, check.output);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("render: with the fresh-backend map and its Lua file every HTTP backend can hold requests for containers just started, and haproxy -c loads the Lua", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/fresh.map`, "");
    await Deno.writeTextFile(`${dir}/glue.lua`, GLUE_LUA);
    const table = buildRoutes(readme);
    const plain = new Renderer(BUILTIN_FILE, LOOPBACK).render(table);
    assertExcludes(plain, "lua");
    const text = new Renderer(BUILTIN_FILE, {
      ...LOOPBACK,
      maps: { fresh: `${dir}/fresh.map`, lua: `${dir}/glue.lua` },
    }).render(table);
    assertIncludes(text, `    lua-load ${dir}/glue.lua\n`);
    const backends = text.split("\n").filter((l) => /^backend /.test(l));
    const held = text.split("\n").filter((l) =>
      l ===
        "    http-request lua.glue_wait_listening if { var(txn.glue_fresh) -m found }"
    );
    // Every HTTP backend but the one that answers requests no route takes.
    assertEquals(held.length, backends.length - 1 - table.tcpRoutes.length);
    const check = await haproxyCheck(text);
    assertTrue(check.ok, check.output);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const hostile = [
  "x.com\nlisten evil",
  "x.com\r\nlisten evil",
  "x.com listen evil",
  "x.com#listen evil",
  "x.com'\nlisten evil'",
  'x.com"listen evil"',
  "{{ listen_evil }}",
  "{% raw %}listen evil",
  "%[listen_evil]",
  "${LISTEN_EVIL}",
  "x.com\u0000listen evil",
  "x.com\u2028listen evil",
  "éx.com listen evil",
  "x".repeat(5000) + " listen evil",
  "\\\nlisten evil",
];

Deno.test("render: hostile label values add nothing to haproxy.cfg", async () => {
  const evil = hostile.flatMap((value, i) => [
    container(`h${i}`, labels({ glue_http_80_host: value })),
    container(
      `p${i}`,
      labels({ glue_http_80_host: "ok.com", glue_http_80_prefix: value }),
    ),
    container(
      `w${i}`,
      labels({ glue_http_80_host: "ok.com", glue_http_80_weight: value }),
    ),
    container(
      `s${i}`,
      labels({
        glue_http_80_host: "ok.com",
        glue_http_80_prefix: "p",
        glue_http_80_strip_prefix: value,
      }),
    ),
    container(
      `n${i}`,
      labels({ glue_http_80_host: "ok.com", glue_network: value }),
    ),
    container(`l${i}`, labels({ glue_http_ports: value })),
    container(`k${i}`, labels({ [`glue_http_${value}_host`]: "ok.com" })),
    // Exposed ports are read for another host's containers only.
    container(
      `e${i}`,
      onHost("h2", "192.0.2.9"),
      exposes(value),
      labels({ glue_http_80_host: "ok.com" }),
    ),
    container(`t${i}`, exposes("5432/tcp"), labels({ glue_tcp_ports: value })),
    container(
      `tw${i}`,
      exposes("5432/tcp"),
      labels({
        glue_tcp_ports: "5432",
        glue_tcp_5432_weight: value,
      }),
    ),
    container(
      `tl${i}`,
      exposes("5432/tcp"),
      labels({
        glue_tcp_ports: "5432",
        glue_tcp_5432_listen: value,
      }),
    ),
  ]);
  const renderer = builtin();
  const clean = renderer.render(buildRoutes(readme));
  const table = buildRoutes([...readme, ...evil]);
  const text = renderer.render(table);
  // Every hostile container was rejected, so the config is exactly the clean one.
  assertEquals(text, clean);
  assertExcludes(text.toLowerCase(), "evil");
  const rejected = new Set(table.findings.map((f) => f.container));
  assertEquals(rejected.size, evil.length);
  const check = await haproxyCheck(text);
  assertTrue(check.ok, check.output);
});

Deno.test("render: a template dir overrides the built-in file and can extend the built-in base", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/haproxy.cfg.njk`,
      `{% extends "haproxy_base.cfg.njk" %}{% block proxies %}
frontend custom
    bind {{ http_bind[0] }}
{%- for route in routes %}
    # custom route {{ route.backend }}
{%- endfor %}
    default_backend none
backend none
{% endblock %}`,
    );
    const r = new Renderer({
      dirs: [dir, BUILTIN_DIR],
      file: "haproxy.cfg.njk",
    }, listen);
    const text = r.render(buildRoutes(readme));
    assertIncludes(text, "frontend custom");
    assertIncludes(text, "# custom route http_wp1.example.com");
    assertIncludes(text, "defaults");
    const check = await haproxyCheck(text);
    assertTrue(check.ok, check.output);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("render: missing and broken templates fail at construction, naming the file", async () => {
  assertThrows(
    () => new Renderer({ dirs: [BUILTIN_DIR], file: "nope.njk" }, listen),
    TemplateError,
    '"nope.njk"',
  );
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/broken.njk`, "{% for x in %}");
    assertThrows(
      () => new Renderer({ dirs: [dir], file: "broken.njk" }, listen),
      TemplateError,
      "broken.njk",
    );
    await Deno.writeTextFile(
      `${dir}/runtime.njk`,
      "{{ routes | nosuchfilter }}",
    );
    assertThrows(
      () => new Renderer({ dirs: [dir], file: "runtime.njk" }, listen),
      TemplateError,
    );
    await Deno.writeTextFile(
      `${dir}/abs.njk`,
      "absolute {{ routes | length }}",
    );
    const abs = new Renderer({ dirs: [], file: `${dir}/abs.njk` }, listen);
    assertEquals(abs.render(NO_ROUTES), "absolute 0");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("render: with the host map, plain hosts go through the map to pool backends and haproxy -c passes", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const hostMap = `${dir}/hosts.map`;
    const renderer = new Renderer(
      { dirs: DEFAULT_TEMPLATE_DIRS, file: "haproxy.cfg.njk" },
      { ...listen, maps: { http: hostMap } },
    );
    const { table } = assignPool(buildRoutes(readme), EMPTY_POOL);
    await Deno.writeTextFile(
      hostMap,
      mapText(table.maps.http),
    );
    const text = renderer.render(table);
    const check = await haproxyCheck(text);
    assertTrue(check.ok, check.output);
    assertIncludes(
      text,
      `use_backend %[var(txn.host),map_str(${hostMap})] if { var(txn.host),map_str(${hostMap}) -m found }`,
    );
    // A host with a prefix keeps its ACL and comes before the map; the
    // wildcard comes after it, so no exact host is shadowed.
    const prefix = text.indexOf("use_backend http_openstack.example.com");
    const map = text.indexOf("use_backend %[var(txn.host),map_str(");
    const wildcard = text.indexOf("use_backend http_wildcard.example.com");
    assertTrue(prefix < map && map < wildcard, `${prefix} ${map} ${wildcard}`);
    assertEquals(
      table.pool.length,
      table.maps.http.length + POOL_SPARE,
    );
    assertIncludes(text, `backend hosts_${table.pool.length}\n`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("render: memo() calls the macro again when any argument is not the same", () => {
  const memo = memoizer();
  let calls = 0;
  const macro = (name: string, view?: object) => `${name} ${++calls} ${view}`;
  const view = {};
  const first = memo(macro, "a", view);
  assertEquals(memo(macro, "a", view), first);
  assertEquals(calls, 1);
  // The same route's view under another name, then another view.
  assertEquals(memo(macro, "b", view), "b 2 [object Object]");
  assertEquals(memo(macro, "b", {}), "b 3 [object Object]");
  // Nothing to find a call by: never kept.
  memo(macro, "c");
  memo(macro, "c");
  assertEquals(calls, 5);
  assertThrows(() => memo("backend", "a", view), TypeError, "macro");
});
