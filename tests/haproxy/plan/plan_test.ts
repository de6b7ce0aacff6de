/**
 * The planner on tables: each case renders two container sets with the
 * built-in template and checks what reaching the second from the first
 * takes: nothing, runtime operations, or a reload (with its reason).
 */

import { assertEquals, assertIncludes } from "../../_fixtures/assert.ts";
import { container, exposes, ip, labels } from "../../_fixtures/containers.ts";
import type { ContainerRecord } from "../../../lib/docker/container.ts";
import { commandsFor } from "../../../lib/haproxy/plan/runtime_ops.ts";
import { planFiles, templateFit } from "../../../lib/haproxy/plan/plan.ts";
import { shapeOf } from "../../../lib/haproxy/render/config_shape.ts";
import { Renderer } from "../../../lib/haproxy/render/render.ts";
import { BUILTIN_DIR } from "../../../lib/haproxy/render/builtin_templates.ts";
import { buildRoutes } from "../../../lib/routing/routes.ts";
import {
  HOST_MAP,
  one,
  render,
  renderer,
  stopping,
  summary,
  two,
  web,
} from "../../_fixtures/plan.ts";

const cases: {
  name: string;
  before: ContainerRecord[] | null;
  after: ContainerRecord[];
  expect: string[];
}[] = [
  {
    name: "same containers: nothing to do",
    before: [one],
    after: [one],
    expect: ["none"],
  },
  {
    name: "unknown running configuration: reload",
    before: null,
    after: [one],
    expect: ["reload: the running configuration is not known"],
  },
  {
    name: "scale-out on an existing host: add",
    before: [one],
    after: [one, two],
    expect: ["add http_a.example.com/w2:80 10.0.0.3:80 weight 100"],
  },
  {
    name: "scale-in: remove",
    before: [one, two],
    after: [one],
    expect: ["remove http_a.example.com/w2:80"],
  },
  {
    name: "rolling replacement step: removal comes first",
    before: [one],
    after: [two],
    expect: [
      "remove http_a.example.com/w1:80",
      "add http_a.example.com/w2:80 10.0.0.3:80 weight 100",
    ],
  },
  {
    name: "restart with a new address: set addr",
    before: [one],
    after: [web("w1", "10.0.0.9")],
    expect: ["address http_a.example.com/w1:80 10.0.0.9:80"],
  },
  {
    name: "weight label changed: set weight",
    before: [one],
    after: [
      container(
        "w1",
        ip("10.0.0.2"),
        labels({
          glue_http_80_host: "a.example.com",
          glue_http_80_weight: "30",
        }),
      ),
    ],
    expect: ["weight http_a.example.com/w1:80 30"],
  },
  {
    name: "stopping container: drained by weight 0",
    before: [one, two],
    after: [one, web("w2", "10.0.0.3", stopping)],
    expect: ["weight http_a.example.com/w2:80 0"],
  },
  {
    name: "new host: a new backend needs a reload",
    before: [one],
    after: [
      one,
      container(
        "b1",
        ip("10.0.0.4"),
        labels({ glue_http_80_host: "b.example.com" }),
      ),
    ],
    expect: ["reload: backend http_b.example.com added"],
  },
  {
    name: "last container of a host gone: its backend goes, reload",
    before: [one],
    after: [],
    expect: ["reload: backend http_a.example.com removed"],
  },
  {
    name: "strip_prefix changes the backend's rules: reload",
    before: [
      container(
        "p1",
        ip("10.0.0.2"),
        labels({
          glue_http_80_host: "a.example.com",
          glue_http_80_prefix: "x",
        }),
      ),
    ],
    after: [
      container(
        "p1",
        ip("10.0.0.2"),
        labels({
          glue_http_80_host: "a.example.com",
          glue_http_80_prefix: "x",
          glue_http_80_strip_prefix: "1",
        }),
      ),
    ],
    expect: [
      "reload: line added: \"http-request replace-path '^/x/?(.*)$' '/\\\\1'\"",
    ],
  },
  {
    name: "TCP replica joins: add",
    before: [
      container(
        "t1",
        ip("10.0.0.2"),
        labels({ glue_tcp_ports: "5432" }),
        exposes("5432/tcp"),
      ),
    ],
    after: [
      container(
        "t1",
        ip("10.0.0.2"),
        labels({ glue_tcp_ports: "5432" }),
        exposes("5432/tcp"),
      ),
      container(
        "t2",
        ip("10.0.0.3"),
        labels({ glue_tcp_ports: "5432" }),
        exposes("5432/tcp"),
      ),
    ],
    expect: ["add tcp_5432/t2:5432 10.0.0.3:5432 weight 100"],
  },
];

for (const c of cases) {
  Deno.test(`plan: ${c.name}`, () => {
    const before = c.before === null ? null : render(c.before);
    assertEquals(summary(planFiles(before, render(c.after))), c.expect);
  });
}

Deno.test("plan: an added server carries the default-server settings, which dynamic servers do not inherit", () => {
  const plan = planFiles(render([one]), render([one, two]));
  assertEquals(plan.kind, "runtime");
  if (plan.kind !== "runtime") return;
  const op = plan.ops[0]!;
  assertEquals(commandsFor(op).map((c) => c.command), [
    "add server http_a.example.com/w2:80 10.0.0.3:80 inter 1s fastinter 250ms downinter 1s fall 2 rise 2 weight 100 check",
    "enable health http_a.example.com/w2:80",
    "set server http_a.example.com/w2:80 state ready",
  ]);
});

Deno.test("plan: a server removed is put in maintenance, its sessions cut, then deleted", () => {
  const plan = planFiles(render([one, two]), render([one]));
  if (plan.kind !== "runtime") throw new Error(`not runtime: ${plan.kind}`);
  assertEquals(commandsFor(plan.ops[0]!).map((c) => c.command), [
    "set server http_a.example.com/w2:80 state maint",
    "shutdown sessions server http_a.example.com/w2:80",
    "del server http_a.example.com/w2:80",
  ]);
});

Deno.test("plan: an operator's template that renders other lines per server reloads", () => {
  const a = "backend b\n    server s1 10.0.0.2:80 check\n";
  const b = "backend b\n    server s1 10.0.0.2:80 check\n" +
    "    server s2 10.0.0.3:80 check\n    # 2 servers\n    http-request set-header X-Servers 2\n";
  const plan = planFiles(a, b);
  assertEquals(plan.kind, "reload");
  if (plan.kind === "reload") assertIncludes(plan.reason, "X-Servers");
});

Deno.test("plan: comments and blank lines are not structure", () => {
  const a = "backend b\n    server s1 10.0.0.2:80 check\n";
  const b =
    "# a comment\n\nbackend b   # trailing\n    server s1 10.0.0.2:80 check\n";
  assertEquals(planFiles(a, b), { kind: "none" });
});

Deno.test("plan: changed server options (not weight or address) reload", () => {
  const a = "backend b\n    server s1 10.0.0.2:80 check\n";
  const b = "backend b\n    server s1 10.0.0.2:80 check ssl\n";
  assertEquals(planFiles(a, b), {
    kind: "reload",
    reason: "server b/s1 options changed",
  });
});

Deno.test("plan: shape reads IPv6 server addresses by their last colon", () => {
  const shape = shapeOf("backend b\n    server s1 fd00::2:8080 weight 7\n");
  const server = shape.servers.get("b")?.get("s1");
  assertEquals(
    [server?.address, server?.port, server?.weight],
    ["fd00::2", 8080, 7],
  );
});

Deno.test("plan: the built-in template fits the runtime scheme; one that counts servers does not", () => {
  assertEquals(templateFit((input) => renderer.render(input)), null);
  const counting = new Renderer(
    { dirs: [BUILTIN_DIR], file: "/dev/null" },
    { httpBind: [], statsBind: "", tcpBindAddress: "*" },
  );
  const reason = templateFit((input) =>
    counting.render(input) +
    input.routes.map((r) =>
      `backend ${r.backend}\n    # ${r.servers.length} servers\n    http-request set-header X-N ${r.servers.length}\n${
        r.servers.map((s) => `    server ${s.name} ${s.address}:${s.port}\n`)
          .join("")
      }`
    ).join("")
  );
  assertIncludes(reason ?? "", "X-N");
});

Deno.test("plan: a certificate joins before the hosts it serves; the one it replaces leaves last", () => {
  const plan = planFiles("same", "same", {
    certs: {
      crtList: "/etc/haproxy/haproxy.cfg.crt-list",
      before: [{ path: "/c/a.example.com.1111.pem", pem: "old" }],
      after: [{ path: "/c/a.example.com.2222.pem", pem: "new" }],
    },
    maps: [{
      file: HOST_MAP,
      before: [],
      after: [["a.example.com", "hosts_1"]],
    }],
  });
  assertEquals(summary(plan), [
    "cert-add /c/a.example.com.2222.pem",
    "map a.example.com hosts_1",
    "cert-remove /c/a.example.com.1111.pem",
  ]);
});

Deno.test("plan: a server joining a sticky backend sets the cookie key again, which gives it a cookie", () => {
  const sticky = new Renderer(
    { dirs: [BUILTIN_DIR], file: "haproxy.cfg.njk" },
    {
      httpBind: ["127.0.0.1:18080"],
      statsBind: "",
      tcpBindAddress: "127.0.0.1",
      statsSocket: "/run/haproxy/admin.sock",
      cookieKey: "0123456789abcdef0123456789abcdef",
    },
  );
  const s = (name: string, address: string) =>
    container(
      name,
      ip(address),
      labels({ glue_http_80_host: "s.example.com", glue_http_80_sticky: "1" }),
    );
  const plan = planFiles(
    sticky.render(buildRoutes([s("s1", "10.0.0.2")])),
    sticky.render(buildRoutes([s("s1", "10.0.0.2"), s("s2", "10.0.0.3")])),
  );
  assertEquals(plan.kind, "runtime");
  if (plan.kind !== "runtime") return;
  assertEquals(
    plan.ops.flatMap(commandsFor).map((c) => c.command).filter((c) =>
      c.includes("cookie")
    ),
    [
      "set dynamic-cookie-key backend http_s.example.com 0123456789abcdef0123456789abcdef",
    ],
  );
});

Deno.test("plan: a header value that changes only after a ' #' is a change; a real comment is not", () => {
  const header = (value: string) =>
    web(
      "w1",
      "10.0.0.2",
      labels({
        glue_http_80_host: "a.example.com",
        "glue_http_80_request_header_X-Tag": value,
      }),
    );
  const plan = planFiles(render([header("a #1")]), render([header("a #2")]));
  assertEquals(plan.kind, "reload");
  const a = "backend b\n    server s1 10.0.0.2:80 check # one\n";
  const b = "backend b\n    server s1 10.0.0.2:80 check # two\n";
  assertEquals(planFiles(a, b).kind, "none");
});
