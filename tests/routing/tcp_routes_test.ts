import {
  assertEquals,
  assertIncludes,
  assertTrue,
} from "../_fixtures/assert.ts";
import { describeServers, warningsOf } from "../_fixtures/routes.ts";
import { buildRoutes } from "../../lib/routing/routes.ts";
import { type RouteTable } from "../../lib/routing/route_types.ts";
import type { RouteOptions } from "../../lib/routing/claims.ts";
import type { ContainerRecord } from "../../lib/docker/container.ts";
import { listenPorts } from "../../lib/haproxy/settings.ts";
import { builtin } from "../_fixtures/render.ts";
import { haproxyCheck } from "../_fixtures/haproxy.ts";
import {
  container,
  created,
  exposes,
  ip,
  labels,
  onHost,
} from "../_fixtures/containers.ts";

/** TCP routes as `listen -> name@ip:port*weight ...`. */
function summary(table: RouteTable): string[] {
  return table.tcpRoutes.map((r) =>
    `${r.listen} -> ${describeServers(r.servers)}`
  );
}

interface Case {
  description: string;
  containers: ContainerRecord[];
  options?: RouteOptions;
  tcp: string[];
  http?: number;
  warnings?: string[];
}

const db = (
  name: string,
  address: string,
  extra: Record<string, string> = {},
) =>
  container(
    name,
    ip(address),
    exposes("5432/tcp"),
    labels({ glue_tcp_ports: "5432", ...extra }),
  );

const cases: Case[] = [
  {
    description: "glue_tcp_ports listens on the same port by default",
    containers: [db("pg1", "10.0.0.1")],
    tcp: ["5432 -> pg1@10.0.0.1:5432*100"],
  },
  {
    description:
      "replicas share the listen port; weights and listen labels apply",
    containers: [
      db("pg1", "10.0.0.1", {
        glue_tcp_5432_weight: "3",
        glue_tcp_5432_listen: "15432",
      }),
      db("pg2", "10.0.0.2", {
        glue_tcp_5432_weight: "1",
        glue_tcp_5432_listen: "15432",
      }),
    ],
    tcp: ["15432 -> pg1@10.0.0.1:5432*3 pg2@10.0.0.2:5432*1"],
  },
  {
    description: "several ports on one container, ordered by listen port",
    containers: [
      container(
        "multi",
        ip("10.0.0.1"),
        exposes("6379/tcp", "26379/tcp"),
        labels({
          glue_tcp_ports: "26379,6379",
        }),
      ),
    ],
    tcp: [
      "6379 -> multi@10.0.0.1:6379*100",
      "26379 -> multi@10.0.0.1:26379*100",
    ],
  },
  {
    description: "HTTP and TCP side by side on different ports",
    containers: [
      container(
        "both",
        ip("10.0.0.1"),
        exposes("80/tcp", "9000/tcp"),
        labels({
          glue_http_80_host: "a.com",
          glue_tcp_ports: "9000",
        }),
      ),
    ],
    tcp: ["9000 -> both@10.0.0.1:9000*100"],
    http: 1,
  },
  {
    description: "a port labelled for both HTTP and TCP is routed as neither",
    containers: [
      container(
        "confused",
        ip("10.0.0.1"),
        exposes("80/tcp", "81/tcp"),
        labels({
          glue_http_80_host: "a.com",
          glue_http_81_host: "b.com",
          glue_tcp_ports: "80",
        }),
      ),
    ],
    tcp: [],
    http: 1,
    warnings: ["confused glue_tcp_ports"],
  },
  {
    description: "two services on one listen port: the older keeps it",
    containers: [
      container(
        "redis",
        ip("10.0.0.1"),
        created("2026-01-01T00:00:00Z"),
        exposes("6379/tcp"),
        labels({
          glue_tcp_ports: "6379",
          glue_tcp_6379_listen: "7000",
        }),
      ),
      container(
        "memcached",
        ip("10.0.0.2"),
        created("2026-02-01T00:00:00Z"),
        exposes("11211/tcp"),
        labels({
          glue_tcp_ports: "11211",
          glue_tcp_11211_listen: "7000",
        }),
      ),
    ],
    tcp: ["7000 -> redis@10.0.0.1:6379*100"],
    warnings: ["memcached glue_tcp_11211_listen"],
  },
  {
    description: "a listen port HAProxy uses for HTTP or stats is refused",
    options: { reservedPorts: [80, 8404] },
    containers: [
      db("pg1", "10.0.0.1", { glue_tcp_5432_listen: "80" }),
      db("pg2", "10.0.0.2", { glue_tcp_5432_listen: "5433" }),
    ],
    tcp: ["5433 -> pg2@10.0.0.2:5432*100"],
    warnings: ["pg1 glue_tcp_5432_listen"],
  },
  {
    description: "bad values drop only that route",
    containers: [
      db("okdb", "10.0.0.1"),
      db("badweight", "10.0.0.2", { glue_tcp_5432_weight: "300" }),
      db("badlisten", "10.0.0.3", { glue_tcp_5432_listen: "70000" }),
      container(
        "badports",
        ip("10.0.0.4"),
        labels({ glue_tcp_ports: "5432;rm" }),
      ),
      // Another host's container: its port must be exposed.
      container(
        "unexposed",
        onHost("h2", "192.0.2.9"),
        exposes("5432/udp"),
        labels({ glue_tcp_ports: "5432" }),
      ),
    ],
    tcp: ["5432 -> okdb@10.0.0.1:5432*100"],
    warnings: [
      "badlisten glue_tcp_5432_listen",
      "badports glue_tcp_ports",
      "badweight glue_tcp_5432_weight",
      "unexposed glue_tcp_ports",
    ],
  },
];

for (const c of cases) {
  Deno.test(`tcp routes: ${c.description}`, () => {
    const table = buildRoutes(c.containers, c.options);
    assertEquals(summary(table), c.tcp);
    assertEquals(table.routes.length, c.http ?? 0);
    assertEquals(warningsOf(table).sort(), (c.warnings ?? []).sort());
  });
}

Deno.test("tcp routes: the two-services warning names both containers and ports", () => {
  const table = buildRoutes(cases[5]?.containers ?? []);
  const message = table.findings[0]?.message ?? "";
  assertIncludes(message, "redis");
  assertIncludes(message, "7000");
  assertTrue(message.includes("6379") && message.includes("11211"), message);
});

Deno.test("tcp routes: proxy_protocol sends the client's address to that container in a PROXY header; a bad version drops the route", async () => {
  const table = buildRoutes([
    db("v2", "10.0.0.1", { glue_tcp_5432_proxy_protocol: "v2" }),
    db("v1", "10.0.0.2", { glue_tcp_5432_proxy_protocol: "v1" }),
    db("none", "10.0.0.3"),
    db("bad", "10.0.0.4", { glue_tcp_5432_proxy_protocol: "v3" }),
  ]);
  assertEquals(warningsOf(table), ["bad glue_tcp_5432_proxy_protocol"]);
  const text = builtin().render(table);
  for (
    const line of [
      "    server v2:5432 10.0.0.1:5432 weight 100 check send-proxy-v2",
      "    server v1:5432 10.0.0.2:5432 weight 100 check send-proxy",
      "    server none:5432 10.0.0.3:5432 weight 100 check",
    ]
  ) assertIncludes(text, `${line}\n`);
  const check = await haproxyCheck(text);
  assertTrue(check.ok, check.output);
});

Deno.test("listen ports are read from bind arguments", () => {
  assertEquals(
    listenPorts([
      "*:80",
      "127.0.0.1:8404",
      ":::443 v4v6 ssl crt /x.pem",
      "[::1]:8080",
      "*:9000-9002",
      "/run/x.sock",
    ]),
    [
      80,
      8404,
      443,
      8080,
      9000,
      9001,
      9002,
    ],
  );
});
