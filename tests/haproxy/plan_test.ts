/**
 * The planner on tables: each case renders two container sets with the
 * built-in template and checks what reaching the second from the first
 * takes: nothing, runtime operations, or a reload (with its reason).
 */

import {
  assertEquals,
  assertIncludes,
  assertTrue,
} from "../_fixtures/assert.ts";
import {
  container,
  exposes,
  ip,
  labels,
  type Option,
} from "../_fixtures/containers.ts";
import type { ContainerRecord } from "../../lib/docker/container.ts";
import { BUILTIN_DIR } from "../../lib/haproxy/builtin_templates.ts";
import { commandsFor } from "../../lib/haproxy/runtime_ops.ts";
import {
  type Plan,
  planChange,
  shapeOf,
  templateFit,
} from "../../lib/haproxy/plan.ts";
import { Renderer } from "../../lib/haproxy/render.ts";
import {
  assignPool,
  EMPTY_POOL,
  POOL_SPARE,
  type PoolAssignment,
} from "../../lib/haproxy/pool.ts";
import { buildRoutes } from "../../lib/haproxy/routes.ts";

const HOST_MAP = "/etc/haproxy/haproxy.cfg.hosts.map";

/** The built-in template as the engine sets it up with an admin socket; with the host map when asked. */
function builtin(hostMap: string = ""): Renderer {
  return new Renderer(
    { dirs: [BUILTIN_DIR], file: "haproxy.cfg.njk" },
    {
      httpBind: ["127.0.0.1:18080"],
      statsBind: "",
      tcpBindAddress: "127.0.0.1",
      statsSocket: "/run/haproxy/admin.sock",
      stateFile: "/etc/haproxy/haproxy.cfg.state",
      maps: { http: hostMap },
    },
  );
}

const renderer = builtin();

function render(containers: readonly ContainerRecord[]): string {
  return renderer.render(buildRoutes(containers));
}

function web(name: string, address: string, ...more: Option[]) {
  return container(
    name,
    ip(address),
    labels({ glue_http_80_host: "a.example.com" }),
    ...more,
  );
}

const stopping: Option = (record) => {
  record.stopping = true;
};

/** A plan in one line per operation, for table comparisons. */
function summary(plan: Plan): string[] {
  if (plan.kind === "none") return ["none"];
  if (plan.kind === "reload") return [`reload: ${plan.reason}`];
  return plan.ops.map((op) => {
    switch (op.op) {
      case "add":
        return `add ${op.backend}/${op.server.name} ${op.server.address}:${op.server.port} weight ${op.server.weight}`;
      case "remove":
        return `remove ${op.backend}/${op.server}`;
      case "weight":
        return `weight ${op.backend}/${op.server} ${op.weight}`;
      case "address":
        return `address ${op.backend}/${op.server} ${op.address}:${op.port}`;
      case "map":
        return `map ${op.key} ${op.value ?? "(removed)"}`;
      case "cert-add":
        return `cert-add ${op.file}`;
      case "cert-remove":
        return `cert-remove ${op.file}`;
    }
  });
}

const one = web("w1", "10.0.0.2");
const two = web("w2", "10.0.0.3");

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
    assertEquals(summary(planChange(before, render(c.after))), c.expect);
  });
}

Deno.test("plan: an added server carries the default-server settings, which dynamic servers do not inherit", () => {
  const plan = planChange(render([one]), render([one, two]));
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
  const plan = planChange(render([one, two]), render([one]));
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
  const plan = planChange(a, b);
  assertEquals(plan.kind, "reload");
  if (plan.kind === "reload") assertIncludes(plan.reason, "X-Servers");
});

Deno.test("plan: comments and blank lines are not structure", () => {
  const a = "backend b\n    server s1 10.0.0.2:80 check\n";
  const b =
    "# a comment\n\nbackend b   # trailing\n    server s1 10.0.0.2:80 check\n";
  assertEquals(planChange(a, b), { kind: "none" });
});

Deno.test("plan: changed server options (not weight or address) reload", () => {
  const a = "backend b\n    server s1 10.0.0.2:80 check\n";
  const b = "backend b\n    server s1 10.0.0.2:80 check ssl\n";
  assertEquals(planChange(a, b), {
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

/** Renders with the host map and its pool, as the engine does with an admin socket. */
function pooled(
  containers: readonly ContainerRecord[],
  previous: PoolAssignment = EMPTY_POOL,
) {
  const { table, assignment } = assignPool(buildRoutes(containers), previous);
  return {
    text: mapRenderer.render(table),
    map: table.maps.http,
    assignment,
  };
}

const mapRenderer = builtin(HOST_MAP);

function pooledPlan(
  before: readonly ContainerRecord[],
  after: readonly ContainerRecord[],
): string[] {
  const a = pooled(before);
  const b = pooled(after, a.assignment);
  return summary(
    planChange(a.text, b.text, {
      maps: [{ file: HOST_MAP, before: a.map, after: b.map }],
    }),
  );
}

const bHost = container(
  "b1",
  ip("10.0.0.4"),
  labels({ glue_http_80_host: "b.example.com" }),
);

Deno.test("plan with the host map: a new host is a pool backend's servers and a map entry, no reload", () => {
  assertEquals(pooledPlan([one], [one, bHost]), [
    "add hosts_2/b1:80 10.0.0.4:80 weight 100",
    "map b.example.com hosts_2",
  ]);
});

Deno.test("plan with the host map: the last container of a host takes its map entry first", () => {
  assertEquals(pooledPlan([one, bHost], [one]), [
    "map b.example.com (removed)",
    "remove hosts_2/b1:80",
  ]);
});

Deno.test("plan with the host map: a host keeps its pool backend while others come and go", () => {
  const a = pooled([one, bHost]);
  const b = pooled([bHost], a.assignment);
  const c = pooled([bHost, one], b.assignment);
  assertEquals([a.map, b.map, c.map], [
    [["a.example.com", "hosts_1"], ["b.example.com", "hosts_2"]],
    [["b.example.com", "hosts_2"]],
    [["a.example.com", "hosts_1"], ["b.example.com", "hosts_2"]],
  ]);
});

Deno.test("plan with the host map: prefixes and wildcards keep their ACLs and reload", () => {
  assertEquals(
    pooledPlan([one], [
      one,
      container(
        "p1",
        ip("10.0.0.5"),
        labels({
          glue_http_80_host: "a.example.com",
          glue_http_80_prefix: "api",
        }),
      ),
    ]),
    ["reload: backend http_a.example.com_api added"],
  );
});

Deno.test("plan with the host map: outgrowing the pool reloads once, with room to spare", () => {
  const many = (n: number) =>
    Array.from({ length: n }, (_, i) =>
      container(
        `h${i}`,
        ip(`10.0.${Math.floor(i / 200)}.${(i % 200) + 2}`),
        labels({ glue_http_80_host: `h${i}.example.com` }),
      ));
  const first = pooled(many(5));
  assertEquals(first.assignment.size, 5 + POOL_SPARE);
  const full = pooled(many(5 + POOL_SPARE), first.assignment);
  assertEquals(full.assignment.size, 5 + POOL_SPARE);
  assertEquals(planChange(first.text, full.text).kind, "runtime");
  const grown = pooled(many(6 + POOL_SPARE), full.assignment);
  assertTrue(
    grown.assignment.size >= 6 + 2 * POOL_SPARE,
    `size ${grown.assignment.size}`,
  );
  assertEquals(
    summary(planChange(full.text, grown.text))[0],
    `reload: backend hosts_${6 + POOL_SPARE} added, backend hosts_${
      7 + POOL_SPARE
    } added, backend hosts_${8 + POOL_SPARE} added, ...`,
  );
});

Deno.test("plan: a certificate joins before the hosts it serves; the one it replaces leaves last", () => {
  const plan = planChange("same", "same", {
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

Deno.test("commands: a certificate goes in through a transaction with its PEM as payload, and out of the crt-list before the store", () => {
  const list = "/etc/haproxy/haproxy.cfg.crt-list";
  const add = commandsFor({
    op: "cert-add",
    crtList: list,
    file: "/c/a.pem",
    pem: "-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----",
  });
  assertEquals(add.map((c) => c.command), [
    "new ssl cert /c/a.pem",
    "set ssl cert /c/a.pem",
    "commit ssl cert /c/a.pem",
    `add ssl crt-list ${list} /c/a.pem`,
  ]);
  assertEquals(add[1]?.payload?.startsWith("-----BEGIN CERTIFICATE"), true);
  // HAProxy 2.6's answers, as seen on the admin socket.
  assertTrue(add[0]!.ok.test("New empty certificate store '/c/a.pem'!"));
  assertTrue(add[2]!.ok.test("Committing /c/a.pem\nSuccess!"));
  assertTrue(!add[2]!.ok.test("Committing /c/a.pem\nError!"));
  const remove = commandsFor({
    op: "cert-remove",
    crtList: list,
    file: "/c/a.pem",
  });
  assertEquals(remove.map((c) => c.command), [
    `del ssl crt-list ${list} /c/a.pem`,
    "del ssl cert /c/a.pem",
  ]);
  assertTrue(
    remove[0]!.ok.test(`Entry '/c/a.pem' deleted in crtlist '${list}'!`),
  );
  assertTrue(remove[1]!.ok.test("Certificate '/c/a.pem' deleted!"));
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
  const plan = planChange(
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

Deno.test("plan with the host map: a host with its own check and stickiness goes and comes back without a reload", () => {
  const special = (name: string, address: string) =>
    container(
      name,
      ip(address),
      labels({
        glue_http_80_host: "special.example.com",
        glue_http_80_sticky: "1",
        glue_http_80_check: "/healthz",
        glue_http_80_balance: "leastconn",
      }),
    );
  const first = pooled([one, special("s1", "10.0.0.7")]);
  const gone = pooled([one], first.assignment);
  // Another host arriving meanwhile takes a free slot, not the parked one.
  const other = pooled([one, bHost], gone.assignment);
  const back = pooled(
    [one, bHost, special("s2", "10.0.0.8")],
    other.assignment,
  );
  // Map entries aside (planned with the maps in the engine), only servers change.
  assertEquals(summary(planChange(first.text, gone.text)), [
    "remove hosts_1/s1:80",
  ]);
  assertEquals(summary(planChange(gone.text, other.text)), [
    "add hosts_3/b1:80 10.0.0.4:80 weight 100",
  ]);
  assertEquals(summary(planChange(other.text, back.text)), [
    "add hosts_1/s2:80 10.0.0.8:80 weight 100",
  ]);
  assertEquals(back.map, [
    ["a.example.com", "hosts_2"],
    ["b.example.com", "hosts_3"],
    ["special.example.com", "hosts_1"],
  ]);
});

Deno.test("plan with per-port frontends: a new host on a port is a pool backend and a host:port map entry, no reload; a new port reloads", () => {
  const perPort = new Renderer(
    { dirs: [BUILTIN_DIR], file: "haproxy.cfg.njk" },
    {
      httpBind: ["127.0.0.1:18080"],
      perPortFrontends: true,
      statsBind: "",
      tcpBindAddress: "127.0.0.1",
      statsSocket: "/run/haproxy/admin.sock",
      stateFile: "/etc/haproxy/haproxy.cfg.state",
      maps: { http: HOST_MAP },
    },
  );
  const on8080 = (name: string, address: string, host: string) =>
    container(
      name,
      ip(address),
      exposes("8080/tcp"),
      labels({ [`glue_http_8080_host`]: host }),
    );
  const step = (containers: ContainerRecord[], previous = EMPTY_POOL) => {
    const { table, assignment } = assignPool(
      buildRoutes(containers, { perPortFrontends: true }),
      previous,
    );
    return { text: perPort.render(table), map: table.maps.http, assignment };
  };
  const plan = (
    a: ReturnType<typeof step>,
    b: ReturnType<typeof step>,
  ) =>
    summary(
      planChange(a.text, b.text, {
        maps: [{ file: HOST_MAP, before: a.map, after: b.map }],
      }),
    );
  const a = step([on8080("x1", "10.0.0.2", "x.example.com")]);
  // Each frontend looks its own port's keys up.
  assertIncludes(
    a.text,
    "use_backend %[var(txn.host),concat(:8080),map_str(/etc/haproxy/haproxy.cfg.hosts.map)]",
  );
  assertEquals(a.map, [["x.example.com:8080", "hosts_1"]]);
  const b = step([
    on8080("x1", "10.0.0.2", "x.example.com"),
    on8080("y1", "10.0.0.3", "y.example.com"),
  ], a.assignment);
  assertEquals(plan(a, b), [
    "add hosts_2/y1:8080 10.0.0.3:8080 weight 100",
    "map y.example.com:8080 hosts_2",
  ]);
  // The same host on another port: a new frontend, so a reload.
  const c = step([
    on8080("x1", "10.0.0.2", "x.example.com"),
    on8080("y1", "10.0.0.3", "y.example.com"),
    web("x2", "10.0.0.4", labels({ glue_http_80_host: "x.example.com" })),
  ], b.assignment);
  assertEquals(plan(b, c)[0]?.startsWith("reload"), true, plan(b, c)[0]);
  assertEquals(c.map, [
    ["x.example.com:80", "hosts_3"],
    ["x.example.com:8080", "hosts_1"],
    ["y.example.com:8080", "hosts_2"],
  ]);
});
