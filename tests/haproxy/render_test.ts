import {
  assertEquals,
  assertExcludes,
  assertIncludes,
  assertThrows,
  assertTrue,
} from "../_fixtures/assert.ts";
import { haproxyCheck } from "../_fixtures/haproxy.ts";
import {
  container,
  exposes,
  ip,
  labels,
  readmeExamples,
} from "../_fixtures/containers.ts";
import {
  NO_ROUTES,
  Renderer,
  TemplateError,
} from "../../lib/haproxy/render.ts";
import { buildRoutes } from "../../lib/haproxy/routes.ts";
import { createSelfSigned } from "../../lib/tls/self_signed.ts";
import {
  assignPool,
  EMPTY_POOL,
  mapText,
  POOL_SPARE,
} from "../../lib/haproxy/pool.ts";
import {
  BUILTIN_DIR,
  DEFAULT_TEMPLATE_DIRS,
} from "../../lib/haproxy/builtin_templates.ts";

const listen = {
  httpBind: ["127.0.0.1:18080"],
  statsBind: "127.0.0.1:18404",
  tcpBindAddress: "127.0.0.1",
};

function builtin(): Renderer {
  return new Renderer(
    { dirs: DEFAULT_TEMPLATE_DIRS, file: "haproxy.cfg.njk" },
    listen,
  );
}

const readme = [
  ...readmeExamples(),
  container(
    "api",
    ip("10.0.0.6"),
    labels({
      glue_http_80_host: "*.example.com",
      glue_http_80_prefix: "v1.0/api",
      glue_http_80_strip_prefix: "1",
    }),
  ),
  container("fallback", ip("10.0.0.5"), labels({ glue_http_80_host: "" })),
];

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
    container(`e${i}`, exposes(value), labels({ glue_http_80_host: "ok.com" })),
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
