/**
 * The route model on tables: hosts, prefixes, ports and settings.
 */

import { assertEquals, assertTrue } from "../_fixtures/assert.ts";
import { type Case, summary, warningsOf } from "../_fixtures/routes.ts";
import { buildRoutes } from "../../lib/routing/routes.ts";
import {
  container,
  created,
  exposes,
  health,
  ip,
  labels,
  network,
  onHost,
  paused,
  publishes,
  readmeExamples,
  stopped,
} from "../_fixtures/containers.ts";

const cases: Case[] = [
  {
    description: "the original README's examples",
    containers: readmeExamples(),
    routes: [
      "openstack.example.com/dashboard/horizon -> os-ui1@10.0.0.3:80*100",
      "openstack.example.com/identity/keystone -> os-id1@10.0.0.4:80*100",
      "wp1.example.com/ -> wp1@10.0.0.1:80*100",
      "wp2.example.com/ -> wp2@10.0.0.2:80*100",
    ],
  },
  {
    description: "longer prefix first within a host, longer host first",
    containers: [
      container(
        "root",
        ip("10.0.0.1"),
        labels({ glue_http_80_host: "a.example.com" }),
      ),
      container(
        "deep",
        ip("10.0.0.2"),
        labels({
          glue_http_80_host: "a.example.com",
          glue_http_80_prefix: "dashboard/horizon",
        }),
      ),
      container(
        "mid",
        ip("10.0.0.3"),
        labels({
          glue_http_80_host: "a.example.com",
          glue_http_80_prefix: "dashboard",
        }),
      ),
      container(
        "long",
        ip("10.0.0.4"),
        labels({ glue_http_80_host: "www.a.example.com" }),
      ),
    ],
    routes: [
      "www.a.example.com/ -> long@10.0.0.4:80*100",
      "a.example.com/dashboard/horizon -> deep@10.0.0.2:80*100",
      "a.example.com/dashboard -> mid@10.0.0.3:80*100",
      "a.example.com/ -> root@10.0.0.1:80*100",
    ],
  },
  {
    description:
      "exact host before a wildcard of the same length; default host last",
    containers: [
      container("dflt", ip("10.0.0.1"), labels({ glue_http_80_host: "" })),
      container(
        "wild",
        ip("10.0.0.2"),
        labels({ glue_http_80_host: "*.example.com" }),
      ),
      container(
        "exact",
        ip("10.0.0.3"),
        labels({ glue_http_80_host: "a.example.com" }),
      ),
    ],
    routes: [
      "a.example.com/ -> exact@10.0.0.3:80*100",
      "*.example.com/ -> wild@10.0.0.2:80*100",
      "(default)/ -> dflt@10.0.0.1:80*100",
    ],
  },
  {
    description:
      "several hosts on one label; same host+prefix merges servers with weights",
    containers: [
      container(
        "a",
        ip("10.0.0.1"),
        labels({
          glue_http_80_host: "x.com, Y.com",
          glue_http_80_weight: "3",
        }),
      ),
      container(
        "b",
        ip("10.0.0.2"),
        labels({
          glue_http_80_host: "x.com",
          glue_http_80_weight: "1",
        }),
      ),
    ],
    routes: [
      "x.com/ -> a@10.0.0.1:80*3 b@10.0.0.2:80*1",
      "y.com/ -> a@10.0.0.1:80*3",
    ],
  },
  {
    description: "strip_prefix is carried; on an empty prefix it means nothing",
    containers: [
      container(
        "api",
        ip("10.0.0.1"),
        labels({
          glue_http_80_host: "x.com",
          glue_http_80_prefix: "/api/",
          glue_http_80_strip_prefix: "1",
        }),
      ),
      container(
        "web",
        ip("10.0.0.2"),
        labels({
          glue_http_80_host: "x.com",
          glue_http_80_strip_prefix: "1",
        }),
      ),
    ],
    routes: [
      "x.com/api strip -> api@10.0.0.1:80*100",
      "x.com/ -> web@10.0.0.2:80*100",
    ],
  },
  {
    description:
      "glue_http_ports lists ports explicitly; hosts default to the default backend",
    containers: [
      container(
        "multi",
        ip("10.0.0.1"),
        exposes("80/tcp", "8080/tcp"),
        labels({
          glue_http_ports: "80,8080",
          glue_http_8080_host: "admin.x.com",
        }),
      ),
    ],
    routes: [
      "admin.x.com/ -> multi@10.0.0.1:8080*100",
      "(default)/ -> multi@10.0.0.1:80*100",
    ],
  },
  {
    description:
      "without glue_http_ports, only ports with a host label are routed",
    containers: [
      container(
        "c",
        ip("10.0.0.1"),
        exposes("80/tcp", "81/tcp"),
        labels({
          glue_http_81_host: "c.com",
          glue_http_80_prefix: "ignored",
        }),
      ),
    ],
    routes: ["c.com/ -> c@10.0.0.1:81*100"],
  },
  {
    description:
      "the label names the port on this host, whatever the image exposes; another host's container must expose it",
    containers: [
      container(
        "udp",
        ip("10.0.0.1"),
        exposes("80/udp"),
        labels({ glue_http_80_host: "u.com" }),
      ),
      container("none", ip("10.0.0.3"), exposes()),
      container(
        "far",
        onHost("h2", "192.0.2.9"),
        exposes("80/udp"),
        publishes("80/tcp", 8080),
        labels({ glue_http_80_host: "far.com" }),
      ),
      container("ok", ip("10.0.0.2"), labels({ glue_http_80_host: "ok.com" })),
    ],
    routes: ["ok.com/ -> ok@10.0.0.2:80*100", "u.com/ -> udp@10.0.0.1:80*100"],
    warnings: ["far glue_http_80_host"],
  },
  {
    description:
      "only serving containers: stopped, paused, starting, unhealthy are left out",
    containers: [
      container("stopped", stopped(), labels({ glue_http_80_host: "s.com" })),
      container("paused", paused(), labels({ glue_http_80_host: "p.com" })),
      container(
        "starting",
        health("starting"),
        labels({ glue_http_80_host: "st.com" }),
      ),
      container(
        "sick",
        health("unhealthy"),
        labels({ glue_http_80_host: "u.com" }),
      ),
      container(
        "well",
        ip("10.0.0.9"),
        health("healthy"),
        labels({ glue_http_80_host: "h.com" }),
      ),
    ],
    routes: ["h.com/ -> well@10.0.0.9:80*100"],
  },
];

for (const c of cases) {
  Deno.test(`routes: ${c.description}`, () => {
    const table = buildRoutes(c.containers, c.options);
    assertEquals(summary(table), c.routes);
    assertEquals(warningsOf(table).sort(), (c.warnings ?? []).sort());
  });
}

Deno.test("routes: warnings name the container, the label and the bad value", () => {
  const table = buildRoutes([
    container(
      "evil",
      labels({ glue_http_80_host: "a.com\nserver x 1.2.3.4:80" }),
    ),
  ]);
  const [finding] = table.findings;
  assertEquals(finding?.container, "evil");
  assertEquals(finding?.label, "glue_http_80_host");
  assertTrue(
    finding?.message.includes('"a.com\\nserver x 1.2.3.4:80"'),
    finding?.message,
  );
});

Deno.test("routes: the conflict warning names both containers", () => {
  const table = buildRoutes([
    container(
      "first",
      created("2026-01-01T00:00:00Z"),
      labels({
        glue_http_80_host: "c.com",
        glue_http_80_prefix: "p",
      }),
    ),
    container(
      "second",
      created("2026-01-02T00:00:00Z"),
      labels({
        glue_http_80_host: "c.com",
        glue_http_80_prefix: "p",
        glue_http_80_strip_prefix: "1",
      }),
    ),
  ]);
  const message = table.findings[0]?.message ?? "";
  assertEquals(table.findings[0]?.container, "second");
  assertTrue(message.includes("first"), message);
});

Deno.test("routes: the note for an arbitrary network choice says which", () => {
  const table = buildRoutes([
    container(
      "many",
      network("zeta", "10.9.0.2"),
      network("alpha", "10.8.0.2"),
      labels({
        glue_http_80_host: "m.com",
      }),
    ),
  ]);
  assertEquals(table.findings.map((f) => [f.severity, f.container]), [[
    "info",
    "many",
  ]]);
  assertTrue(table.findings[0]?.message.includes("using alpha"));
});

Deno.test("routes: the result does not depend on input order", () => {
  const list = cases.flatMap((c) => c.containers);
  const forward = buildRoutes(list);
  const backward = buildRoutes([...list].reverse());
  assertEquals(backward.routes, forward.routes);
});

Deno.test("routes: backend names are unique and safe even when hosts sanitize alike", () => {
  const table = buildRoutes([
    container(
      "a",
      labels({ glue_http_80_host: "x.com", glue_http_80_prefix: "a!b" }),
    ),
    container(
      "b",
      labels({ glue_http_80_host: "x.com", glue_http_80_prefix: "a&b" }),
    ),
    container("c", labels({ glue_http_80_host: "*.x.com" })),
  ]);
  const names = table.routes.map((r) => r.backend);
  assertEquals(new Set(names).size, names.length);
  for (const name of names) assertTrue(/^[A-Za-z0-9._:-]+$/.test(name), name);
});

Deno.test("routes: containers from etcd are reached on their published port at their host's address", () => {
  const table = buildRoutes([
    container(
      "web",
      onHost("h1", "10.1.0.5"),
      publishes("80/tcp", 8081),
      labels({
        glue_http_80_host: "a.com",
      }),
    ),
    container(
      "web",
      onHost("h2", "10.1.0.6"),
      publishes("80/tcp", 9000, "10.1.0.6"),
      labels({
        glue_http_80_host: "a.com",
      }),
    ),
    container(
      "db",
      onHost("h1", "10.1.0.5"),
      exposes("5432/tcp"),
      publishes("5432/tcp", 15432),
      labels({
        glue_tcp_ports: "5432",
      }),
    ),
    container(
      "hidden",
      onHost("h2", "10.1.0.6"),
      labels({ glue_http_80_host: "b.com" }),
    ),
  ]);
  assertEquals(
    table.routes.map((r) =>
      r.servers.map((s) => `${s.name}=${s.address}:${s.port}`)
    ),
    [
      ["h1:web:80=10.1.0.5:8081", "h2:web:80=10.1.0.6:9000"],
    ],
  );
  assertEquals(
    table.tcpRoutes.map((r) => r.servers.map((s) => `${s.address}:${s.port}`)),
    [["10.1.0.5:15432"]],
  );
  assertEquals(warningsOf(table), ["hidden glue_http_80_host"]);
  assertTrue(table.findings[0]?.message.includes("not published on host h2"));
});
