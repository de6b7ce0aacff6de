import {
  assertEquals,
  assertExcludes,
  assertIncludes,
} from "../_fixtures/assert.ts";
import {
  renderStatusPage,
  type StatusView,
} from "../../lib/report/status_page.ts";
import { escapeHtml } from "../../lib/util/html.ts";
import { HOSTILE } from "../_fixtures/config_lines.ts";

const NOW = Date.UTC(2026, 11, 3, 12, 0, 0);

function view(overrides: Partial<StatusView> = {}): StatusView {
  return {
    now: NOW,
    version: "1.2.3",
    health: {
      healthy: true,
      text: "docker: connected\nhaproxy: last apply succeeded 1 s ago\n",
    },
    report: {
      routes: [{
        frontend: "http+https",
        redirect: false,
        host: "web.example.com",
        prefix: "/api",
        listen: 0,
        backend: "hosts_1",
        servers: [
          {
            name: "web1:80",
            container: "web1",
            containerId: "a",
            address: "172.17.0.2",
            port: 80,
            weight: 100,
            state: "up",
          },
          {
            name: "web2:80",
            container: "web2@host2",
            containerId: "b",
            address: "192.0.2.2",
            port: 32768,
            weight: 0,
            state: "drain",
          },
        ],
        options: ["auth", "compress"],
      }, {
        frontend: "tcp",
        redirect: false,
        host: "",
        prefix: "",
        listen: 5432,
        backend: "tcp_5432",
        servers: [],
        options: [],
      }],
      unrouted: [{
        container: "broken",
        containerId: "c",
        reason: "bad-label",
        label: "glue_http_80_host",
        detail: 'Invalid host "a b"',
      }],
    },
    certificates: [
      { host: "later.example.com", notAfter: new Date(NOW + 60 * 86_400_000) },
      { host: "soon.example.com", notAfter: new Date(NOW + 3 * 86_400_000) },
    ],
    decisions: [
      {
        at: NOW - 2000,
        level: "info",
        text:
          "Container web1: routed web.example.com/api -> 172.17.0.2:80 weight 100",
      },
      {
        at: NOW - 1000,
        level: "warning",
        text: "Container broken: label glue_http_80_host: not routed",
      },
    ],
    refreshSeconds: 5,
    ...overrides,
  };
}

Deno.test("status page: routes with each server's state, the unrouted with their reason, certificates by expiry, newest decision first", () => {
  const html = renderStatusPage(view());
  assertIncludes(
    html,
    "<title>docker-glue: 2 routes, 2 servers, 1 not routed</title>",
  );
  assertIncludes(html, '<meta http-equiv="refresh" content="5">');
  assertIncludes(html, "<td>web.example.com/api</td><td>http+https</td>");
  assertIncludes(
    html,
    '<span class="state up">up</span> web1 <span class="quiet">172.17.0.2:80 weight 100</span>',
  );
  assertIncludes(html, '<span class="state drain">drain</span> web2@host2');
  assertIncludes(html, "<td>auth, compress</td>");
  assertIncludes(html, "<td>TCP port 5432</td>");
  assertIncludes(
    html,
    "<td>broken</td><td>bad-label</td><td>glue_http_80_host</td><td>Invalid host &quot;a b&quot;</td>",
  );
  // The certificate that expires first comes first, marked.
  const soon = html.indexOf("soon.example.com");
  assertEquals(soon > 0 && soon < html.indexOf("later.example.com"), true);
  assertIncludes(
    html,
    '<tr class="warn"><td>soon.example.com</td><td>2026-12-06 12:00:00 UTC</td><td>3</td></tr>',
  );
  assertEquals(
    html.indexOf("Container broken") < html.indexOf("Container web1"),
    true,
  );
  assertIncludes(
    html,
    "Healthy: docker: connected; haproxy: last apply succeeded 1 s ago",
  );
  assertExcludes(html, "<script");
});

Deno.test("status page: what is empty says so; unhealthy and HAProxy unreachable are shown", () => {
  const html = renderStatusPage(view({
    health: { healthy: false, text: "docker: cannot reach Docker\n" },
    report: {
      routes: [],
      unrouted: [],
      haproxyError: "connect ENOENT /run/haproxy/admin.sock",
    },
    certificates: [],
    decisions: [],
  }));
  assertIncludes(
    html,
    '<p class="health bad">Unhealthy: docker: cannot reach Docker</p>',
  );
  assertIncludes(
    html,
    "HAProxy was not asked for its states: connect ENOENT /run/haproxy/admin.sock",
  );
  assertIncludes(html, "No routes: no running container asks for one.");
  assertIncludes(html, "Every container that asks for a route has one.");
  assertIncludes(html, "No certificates served.");
  assertIncludes(html, "Nothing decided yet.");
});

Deno.test("status page: names, labels and log text from containers cannot add markup", () => {
  for (
    const hostile of [
      ...HOSTILE,
      "<script>alert(1)</script>",
      '"><img src=x onerror=alert(1)>',
    ]
  ) {
    const html = renderStatusPage(view({
      report: {
        routes: [],
        unrouted: [{
          container: hostile,
          containerId: "x",
          reason: "bad-label",
          label: hostile,
          detail: hostile,
        }],
      },
      certificates: [{ host: hostile, notAfter: new Date(NOW) }],
      decisions: [{ at: NOW, level: "info", text: hostile }],
    }));
    assertExcludes(html, "<script>alert");
    assertExcludes(html, "<img");
    assertEquals(
      html.split(escapeHtml(hostile)).length - 1 >= 4,
      true,
      hostile,
    );
  }
});
