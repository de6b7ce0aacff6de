/**
 * The route options of issue #22 (auth, allow, rate_limit, hsts, headers,
 * compress, timeout, scheme, TLS passthrough by SNI, IPv6 backends): what
 * each label accepts, what the route carries, and a configuration with all
 * of them that the real `haproxy -c` accepts.
 */

import {
  assertEquals,
  assertIncludes,
  assertThrows,
  assertTrue,
} from "../_fixtures/assert.ts";
import {
  container,
  created,
  exposes,
  ip,
  labels,
} from "../_fixtures/containers.ts";
import { haproxyCheck } from "../_fixtures/haproxy.ts";
import { buildRoutes } from "../../lib/routing/routes.ts";
import { Renderer } from "../../lib/haproxy/render/render.ts";
import { DEFAULT_TEMPLATE_DIRS } from "../../lib/haproxy/render/builtin_templates.ts";
import { createSelfSigned } from "../../lib/tls/self_signed.ts";
import { withTempDir } from "../_fixtures/cleanup.ts";
import { EMPTY_POOL } from "../../lib/haproxy/model/pool.ts";
import { assignPool } from "../../lib/haproxy/model/host_pool.ts";
import { pickAddress } from "../../lib/routing/address.ts";
import { settingWords } from "../../lib/routing/route_settings.ts";
import {
  parseAllow,
  parseAuth,
  parseErrorLimit,
  parseHeaderName,
  parseHeaderValue,
  parseRateLimit,
  parseTimeout,
  parseTunnelTimeout,
  quoteConfig,
} from "../../lib/routing/route_options.ts";

// `openssl passwd -6 -salt saltsalt secret`
const HASH =
  "$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1";

Deno.test("auth: user:hash pairs with crypt(3) hashes; a plain password is refused without being shown", () => {
  assertEquals(parseAuth(`alice:${HASH}, bob:${HASH}`), [
    { user: "alice", hash: HASH },
    { user: "bob", hash: HASH },
  ]);
  assertEquals(
    parseAuth("c:$2y$05$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234")
      .length,
    1,
  );
  const error = assertThrows(() => parseAuth("alice:hunter2secret"), TypeError);
  assertTrue(!error.message.includes("hunter2"), error.message);
  for (
    const bad of ["", "al ice:" + HASH, `a:${HASH}'`, `a:${HASH},a:${HASH}`]
  ) {
    assertThrows(() => parseAuth(bad), Error);
  }
});

Deno.test("auth: a hash whose check would cost HAProxy more than about 5 ms is refused, naming the cost and how to make one", () => {
  const salt = "abcdefghijklmnopqrstuu";
  const tail = "ABCDEFGHIJKLMNOPQRSTUVWXYZ01234";
  const accepted = [
    "$1$saltsalt$abcdefghijklmnopqrstuv",
    `$5$rounds=5000$saltsalt$${tail}`,
    `$6$rounds=5000$saltsalt$${tail}`,
    HASH,
    `$2b$04$${salt}${tail}`,
    `$2b$05$${salt}${tail}`,
    "$y$j7T$saltsaltsalt$abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
    "$y$jA/$saltsaltsalt$abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
  ];
  for (const hash of accepted) {
    assertEquals(parseAuth(`a:${hash}`).length, 1, hash);
  }
  const refused: [string, string][] = [
    [`$6$rounds=5001$saltsalt$${tail}`, "5001 rounds"],
    [`$6$rounds=5000000$saltsalt$${tail}`, "5000000 rounds"],
    [`$5$rounds=999999999$saltsalt$${tail}`, "999999999 rounds"],
    [`$2b$06$${salt}${tail}`, "cost is 06"],
    [`$2y$12$${salt}${tail}`, "cost is 12"],
    [`$2b$31$${salt}${tail}`, "cost is 31"],
    [
      "$y$j9T$saltsaltsalt$abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
      "131072",
    ],
    [
      "$y$j8T$saltsaltsalt$abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
      "65536",
    ],
    [
      "$y$jzzz$saltsaltsalt$abcdefghijklmnopqrstuvwxyz0123456789ABCDEF",
      "yescrypt parameters",
    ],
  ];
  for (const [hash, says] of refused) {
    const error = assertThrows(() => parseAuth(`alice:${hash}`), RangeError);
    assertIncludes(error.message, says);
    assertIncludes(error.message, "openssl passwd -6");
    assertIncludes(error.message, "alice");
  }
});

Deno.test("allow: IPv4 and IPv6 addresses and ranges, nothing else", () => {
  assertEquals(parseAllow("10.0.0.0/8, 192.0.2.7,FD00::/8,::1"), [
    "10.0.0.0/8",
    "192.0.2.7",
    "fd00::/8",
    "::1",
  ]);
  for (
    const bad of [
      "",
      "10.0.0.0/33",
      "fd00::/129",
      "example.com",
      "10.0.0.1/08",
      "10.0.0.1 x",
    ]
  ) {
    assertThrows(() => parseAllow(bad), Error);
  }
});

Deno.test("rate_limit, timeout and tunnel_timeout: counts and durations HAProxy reads as given", () => {
  assertEquals(parseRateLimit("100/10s"), { requests: 100, period: "10s" });
  assertEquals(parseTimeout("5m"), "5m");
  assertEquals(parseTunnelTimeout("4h"), "4h");
  assertEquals(parseTunnelTimeout("168h"), "168h");
  assertEquals(parseErrorLimit("5"), 5);
  for (const bad of ["0", "1001", "05", "x", "-1", "1.5"]) {
    assertThrows(() => parseErrorLimit(bad), Error);
  }
  for (const bad of ["500ms", "169h", "7d", "1h 2m", "3600"]) {
    assertThrows(() => parseTunnelTimeout(bad), Error);
  }
  for (const bad of ["100", "0/10s", "10/0s", "10/10", "10/500ms", "x/1s"]) {
    assertThrows(() => parseRateLimit(bad), Error);
  }
  for (const bad of ["30", "0s", "1d", "25h", "30 s", "-1s"]) {
    assertThrows(() => parseTimeout(bad), Error);
  }
});

Deno.test("headers: tokens for names, framing headers refused, values quoted for the parser", () => {
  assertEquals(parseHeaderName("X-Frame-Options"), "X-Frame-Options");
  for (
    const bad of [
      "Host",
      "content-length",
      "Transfer-Encoding",
      "Connection",
      "X Y",
      "X#",
      "X$",
      "",
    ]
  ) {
    assertThrows(() => parseHeaderName(bad), Error);
  }
  for (const bad of ["a\nb", "a\rb", "é", "\u0000"]) {
    assertThrows(() => parseHeaderValue(bad), Error);
  }
  assertEquals(
    quoteConfig(`say "hi" \\ to ${"$"}{HOME} at 100%[src]`),
    `"say \\"hi\\" \\\\ to \\${"$"}{HOME} at 100%%[src]"`,
  );
});

Deno.test("options: a header label's value is never shown, in routes' words, conflicts or errors", () => {
  const token = "Bearer s3cret-token";
  const table = buildRoutes([
    container(
      "a",
      ip("10.0.0.2"),
      created("2026-01-01T00:00:00Z"),
      labels({
        glue_http_80_host: "app.example.com",
        glue_http_80_request_header_Authorization: token,
      }),
    ),
    container(
      "b",
      ip("10.0.0.3"),
      created("2026-01-02T00:00:00Z"),
      labels({
        glue_http_80_host: "app.example.com",
        glue_http_80_request_header_Authorization: "Bearer other-s3cret",
      }),
    ),
    container(
      "c",
      ip("10.0.0.4"),
      labels({
        glue_http_80_host: "bad.example.com",
        "glue_http_80_request_header_X-Key": "s3cret\u0001",
      }),
    ),
  ], {});
  const route = table.routes.find((r) => r.host === "app.example.com")!;
  assertEquals(settingWords(route.settings), [
    "request_header_Authorization=(set)",
  ]);
  const said = JSON.stringify(table.findings);
  assertIncludes(said, "request_header_*=Authorization: (set)");
  assertIncludes(said, "glue_http_80_request_header_X-Key");
  assertTrue(!said.includes("s3cret"), said);
});

Deno.test("options: a header label whose name ends in _host is a header, not a port's host label", () => {
  const findings = buildRoutes([
    container(
      "a",
      ip("10.0.0.2"),
      labels({
        glue_http_80_host: "app.example.com",
        glue_http_80_request_header_X_host: "app",
      }),
    ),
  ], {}).findings;
  assertEquals(findings, []);
});

Deno.test("options: carried on the route, shown in conflicts, and a route with any has its own backend", () => {
  const all = {
    glue_http_80_host: "app.example.com",
    glue_http_80_auth: `alice:${HASH}`,
    glue_http_80_allow: "127.0.0.1,::1",
    glue_http_80_rate_limit: "5/10s",
    glue_http_80_hsts: "31536000",
    "glue_http_80_request_header_X-Who": "glue",
    "glue_http_80_response_header_X-Frame-Options": "DENY",
    glue_http_80_compress: "1",
    glue_http_80_timeout: "2s",
    glue_http_80_tunnel_timeout: "4h",
    glue_http_80_scheme: "https",
  };
  const table = buildRoutes([
    container(
      "a",
      ip("10.0.0.2"),
      created("2026-01-01T00:00:00Z"),
      labels(all),
    ),
    container(
      "b",
      ip("10.0.0.3"),
      created("2026-01-02T00:00:00Z"),
      labels({ ...all, glue_http_80_rate_limit: "6/10s" }),
    ),
    container(
      "plain",
      ip("10.0.0.4"),
      labels({ glue_http_80_host: "plain.example.com" }),
    ),
  ], {});
  const route = table.routes.find((r) => r.host === "app.example.com")!;
  assertEquals(route.settings.rateLimit, { requests: 5, period: "10s" });
  assertEquals(route.settings.requestHeaders, [{
    name: "X-Who",
    value: "glue",
  }]);
  assertEquals(route.servers.map((s) => s.containerName), ["a"]);
  const conflict = table.findings.find((f) => f.container === "b")!;
  assertEquals(conflict.label, "glue_http_80_rate_limit");
  assertIncludes(conflict.message, "rate_limit=6/10s conflicts");
  const pooled = assignPool(table, EMPTY_POOL).table;
  assertEquals(
    pooled.routes.map((r) => [r.host, r.mapped === true]).sort(),
    [["app.example.com", false], ["plain.example.com", true]],
  );
});

Deno.test("options: a bad value drops that route with one warning naming the label; the others route", () => {
  const table = buildRoutes([
    container(
      "bad",
      ip("10.0.0.2"),
      labels({
        glue_http_80_host: "bad.example.com",
        "glue_http_80_request_header_Content-Length": "0",
      }),
    ),
    container(
      "good",
      ip("10.0.0.3"),
      labels({ glue_http_80_host: "good.example.com" }),
    ),
  ], {});
  assertEquals(table.routes.map((r) => r.host), ["good.example.com"]);
  assertEquals(table.findings.map((f) => f.label), [
    "glue_http_80_request_header_Content-Length",
  ]);
});

Deno.test("sni: TLS passthrough shares the HTTPS port unless a listen port is named; one backend per name", () => {
  const options = { https: true, httpsPort: 443, reservedPorts: [80, 443] };
  const table = buildRoutes([
    container(
      "pt",
      ip("10.0.0.2"),
      exposes("8443/tcp"),
      labels({
        glue_tcp_ports: "8443",
        glue_tcp_8443_sni: "a.example.com,*.b.example.com",
      }),
    ),
    container(
      "own",
      ip("10.0.0.3"),
      exposes("8443/tcp"),
      labels({
        glue_tcp_ports: "8443",
        glue_tcp_8443_sni: "c.example.com",
        glue_tcp_8443_listen: "9443",
      }),
    ),
  ], options);
  assertEquals(
    table.tcpRoutes.map((r) => [r.backend, r.listen, r.sni, r.https]),
    [
      ["tcp_https_wildcard.b.example.com", 443, "*.b.example.com", true],
      ["tcp_https_a.example.com", 443, "a.example.com", true],
      ["tcp_9443_c.example.com", 9443, "c.example.com", false],
    ],
  );
  assertEquals(table.findings, []);
});

Deno.test("glue_ipv6: the IPv6 address of the chosen network; IPv6 alone where a container has no IPv4", () => {
  const dual = container("dual", (r) => {
    r.ipAddress = "";
    r.networks = { v6net: "172.30.0.2" };
    r.networks6 = { v6net: "fd00:dead::2" };
  });
  assertEquals(pickAddress(dual, undefined, undefined).address, "172.30.0.2");
  assertEquals(
    pickAddress(dual, undefined, undefined, true).address,
    "fd00:dead::2",
  );
  const only6 = container("only6", (r) => {
    r.ipAddress = "";
    r.networks = {};
    r.networks6 = { v6net: "fd00:dead::3" };
  });
  assertEquals(
    pickAddress(only6, undefined, undefined).address,
    "fd00:dead::3",
  );
  const only4 = container("only4", ip("10.0.0.9"));
  assertThrows(() => pickAddress(only4, undefined, undefined, true), Error);
  const table = buildRoutes([
    container("v6", (r) => {
      r.ipAddress = "";
      r.networks = { v6net: "172.30.0.4" };
      r.networks6 = { v6net: "fd00:dead::4" };
      r.labels = { glue_http_80_host: "v6.example.com", glue_ipv6: "1" };
    }),
  ], {});
  assertEquals(table.routes[0]?.servers[0]?.address, "fd00:dead::4");
});

/**
 * The built-in template with HTTPS on 18443 and passthrough beside it, its
 * default certificate and crt-list written to `dir`.
 */
async function httpsRenderer(
  dir: string,
  more: Partial<ConstructorParameters<typeof Renderer>[1]> = {},
): Promise<Renderer> {
  await Deno.writeTextFile(
    `${dir}/default.pem`,
    await createSelfSigned(new Date()),
  );
  await Deno.writeTextFile(`${dir}/crt-list`, "");
  return new Renderer(
    { dirs: DEFAULT_TEMPLATE_DIRS, file: "haproxy.cfg.njk" },
    {
      httpBind: ["127.0.0.1:18080"],
      statsBind: "",
      tcpBindAddress: "127.0.0.1",
      httpsBind: ["127.0.0.1:18443"],
      crtList: `${dir}/crt-list`,
      httpsSocket: `${dir}/https.sock`,
      ...more,
    },
  );
}

Deno.test("render: every option, passthrough beside terminated hosts and an IPv6 server pass haproxy -c", async () => {
  await withTempDir("docker-glue-options-", async (dir) => {
    await Deno.writeTextFile(
      `${dir}/ca.pem`,
      await createSelfSigned(new Date()),
    );
    const renderer = await httpsRenderer(dir, {
      httpBind: ["127.0.0.1:18080", "[::1]:18080"],
      backendCaFile: `${dir}/ca.pem`,
    });
    const table = buildRoutes([
      container(
        "opts",
        ip("10.0.0.2"),
        labels({
          glue_http_80_host: "app.example.com",
          glue_http_80_tls: "1",
          glue_http_80_auth: `alice:${HASH}`,
          glue_http_80_allow: "127.0.0.1,::1,10.0.0.0/8",
          glue_http_80_rate_limit: "5/10s",
          glue_http_80_hsts: "31536000",
          "glue_http_80_request_header_X-Who":
            `a "quoted" ${"$"}{HOME} 100%[src] \\`,
          "glue_http_80_response_header_X-Frame-Options": "DENY",
          glue_http_80_compress: "1",
          glue_http_80_timeout: "2s",
          glue_http_80_tunnel_timeout: "4h",
          glue_http_80_scheme: "https",
          glue_http_80_error_limit: "5",
        }),
      ),
      container("v6", (r) => {
        r.ipAddress = "";
        r.networks = { v6net: "172.30.0.4" };
        r.networks6 = { v6net: "fd00:dead::4" };
        r.labels = { glue_http_80_host: "v6.example.com", glue_ipv6: "1" };
      }),
      container(
        "pt",
        ip("10.0.0.5"),
        exposes("8443/tcp"),
        labels({
          glue_tcp_ports: "8443",
          glue_tcp_8443_sni: "pt.example.com,*.pt.example.org",
        }),
      ),
      container(
        "own",
        ip("10.0.0.6"),
        exposes("5432/tcp", "8443/tcp"),
        labels({
          glue_tcp_ports: "5432,8443",
          glue_tcp_8443_sni: "db.example.com",
          glue_tcp_8443_listen: "15432",
          glue_tcp_5432_listen: "15432",
        }),
      ),
    ], { https: true, httpsPort: 18443, reservedPorts: [18080, 18443] });
    assertEquals(table.findings, []);
    const text = renderer.render({
      ...table,
      defaultCert: `${dir}/default.pem`,
    });
    for (
      const line of [
        "userlist http_app.example.com",
        "    http-request deny deny_status 403 unless allowed",
        "    http-request deny deny_status 429 if { sc_http_req_rate(0) gt 5 }",
        '    http-request auth realm "app.example.com" unless { http_auth(http_app.example.com) }',
        '    http-request set-header X-Who "a \\"quoted\\" \\${HOME} 100%%[src] \\\\"',
        '    http-response set-header Strict-Transport-Security "max-age=31536000" if { ssl_fc }',
        "    compression algo gzip",
        "    timeout server 2s",
        "    timeout tunnel 4h",
        "    http-check expect ! rstatus ^5",
        "frontend https_sni",
        "    use_backend tcp_https_pt.example.com if { req_ssl_sni -i pt.example.com }",
        "    use_backend tcp_https_wildcard.pt.example.org if { req_ssl_sni -i -m end .pt.example.org }",
        `    bind unix@${dir}/https.sock accept-proxy ssl crt ${dir}/default.pem crt-list ${dir}/crt-list alpn h2,http/1.1`,
        "    use_backend tcp_15432_db.example.com if { req_ssl_sni -i db.example.com }",
        "    default_backend tcp_15432",
        "    server v6:80 fd00:dead::4:80 weight 100 check",
      ]
    ) {
      assertIncludes(text, `${line}\n`);
    }
    assertIncludes(
      text,
      `check observe layer7 error-limit 5 on-error mark-down ssl verify required ca-file ${dir}/ca.pem sni var(txn.host) check-sni app.example.com verifyhost app.example.com\n`,
    );
    const check = await haproxyCheck(text);
    assertTrue(check.ok, check.output);
  });
});

Deno.test("render: a passthrough wildcard takes only names no other route claims; narrower wildcards first", async () => {
  await withTempDir("docker-glue-sni-", async (dir) => {
    const renderer = await httpsRenderer(dir);
    const tls = (name: string, host: string) =>
      container(
        name,
        ip("10.0.0.2"),
        labels({ glue_http_80_host: host, glue_http_80_tls: "1" }),
      );
    const table = buildRoutes([
      tls("other", "other.example.com"),
      tls("wild", "*.shop.example.com"),
      container(
        "plain",
        ip("10.0.0.3"),
        labels({ glue_http_80_host: "plain.example.com" }),
      ),
      container(
        "pt",
        ip("10.0.0.5"),
        exposes("8443/tcp"),
        labels({
          glue_tcp_ports: "8443",
          glue_tcp_8443_sni: "*.com,*.example.com,db.example.com",
        }),
      ),
    ], { https: true, httpsPort: 18443, reservedPorts: [18080, 18443] });
    assertEquals(table.findings, []);
    const text = renderer.render({
      ...table,
      defaultCert: `${dir}/default.pem`,
    });
    const rules = text.split("\n").filter((line) =>
      line.includes("req_ssl_sni")
    );
    assertEquals(rules, [
      "    use_backend https_terminate if { req_ssl_sni -i other.example.com }",
      "    use_backend tcp_https_db.example.com if { req_ssl_sni -i db.example.com }",
      "    use_backend https_terminate if { req_ssl_sni -i -m end .shop.example.com }",
      "    use_backend tcp_https_wildcard.example.com if { req_ssl_sni -i -m end .example.com }",
      "    use_backend tcp_https_wildcard.com if { req_ssl_sni -i -m end .com }",
    ]);
    const check = await haproxyCheck(text);
    assertTrue(check.ok, check.output);
  });
});

Deno.test("hsts on a route served on plain HTTP only: routed, with a note saying where HSTS goes", () => {
  const table = buildRoutes([
    container(
      "plain",
      ip("10.0.0.2"),
      labels({ glue_http_80_host: "a.example.com", glue_http_80_hsts: "60" }),
    ),
  ], { https: true, httpsPort: 443 });
  assertEquals(table.routes.length, 1);
  assertEquals(
    table.findings.map((f) => [f.severity, f.label]),
    [["info", "glue_http_80_hsts"]],
  );
});
