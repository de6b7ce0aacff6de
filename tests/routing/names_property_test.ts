/**
 * Backend and server names depend on their route alone: routes with
 * generated hosts and prefixes (`_2`-style suffixes, and every character
 * class the prefix label allows) are added and removed one by one in
 * random orders; the names stay unique, equal to a build from scratch,
 * and the file of them all passes the real `haproxy -c`.
 */

import fc from "fast-check";
import { assertEquals, assertTrue } from "../_fixtures/assert.ts";
import { haproxyCheck } from "../_fixtures/haproxy.ts";
import { container, exposes, ip, labels } from "../_fixtures/containers.ts";
import { type ContainerRecord, recordKey } from "../../lib/docker/container.ts";
import { buildRoutes, RouteBuilder } from "../../lib/routing/routes.ts";
import type { RouteTable } from "../../lib/routing/route_types.ts";
import { builtin } from "../_fixtures/render.ts";

// What a prefix segment may hold (labels.ts): letters, digits, ._~!&*+,;=:@-
// and %XX; `_2` and `/2` make the suffixes a counter would have made.
const segmentArb = fc.array(
  fc.constantFrom(
    "a",
    "b",
    "Z",
    "2",
    "_",
    "_2",
    ".",
    "-",
    "~",
    "!",
    "&",
    "*",
    "+",
    ",",
    ";",
    "=",
    ":",
    "@",
    "%2F",
    "%5f",
    "%3A",
  ),
  { minLength: 1, maxLength: 4 },
).map((parts) => parts.join(""));

const prefixArb = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      "",
      "/a_b",
      "/a/b",
      "/a_b_2",
      "/a_b/2",
      "/a:b",
      "/a%3Ab",
    ),
  },
  {
    weight: 1,
    arbitrary: fc.array(segmentArb, { minLength: 1, maxLength: 3 }).map((
      segments,
    ) => `/${segments.join("/")}`),
  },
);

const hostArb = fc.constantFrom(
  "x.example.com",
  "x.example.com",
  "x.example.com",
  "default",
  "",
  "*.example.com",
  "wildcard.example.com",
  "*.wildcard.example.com",
);

const routeArb = fc.record({
  host: hostArb,
  prefix: prefixArb,
  // Servers of one name on two hosts of etcd documents.
  remote: fc.constantFrom("", "h", "h.web"),
});

type Spec = typeof routeArb extends fc.Arbitrary<infer T> ? T : never;

function recordOf(spec: Spec, n: number): ContainerRecord {
  const name = spec.remote === "h" ? "web.c" : "c";
  const record = container(
    `${name}${n}`,
    ip(`10.0.${n >> 8}.${n & 255}`),
    labels({
      glue_http_80_host: spec.host,
      ...(spec.prefix === "" ? {} : { glue_http_80_prefix: spec.prefix }),
    }),
    exposes("80/tcp"),
  );
  if (spec.remote === "") return record;
  return {
    ...record,
    host: { id: spec.remote, advertiseAddress: "192.0.2.1" },
    publishedPorts: [{ port: "80/tcp", hostIp: "0.0.0.0", hostPort: 8000 + n }],
  };
}

function assertUniqueNames(table: RouteTable): void {
  const backends = table.routes.map((route) => route.backend);
  assertEquals(new Set(backends).size, backends.length, backends.join(" "));
  for (const route of table.routes) {
    const names = route.servers.map((server) => server.name);
    assertEquals(new Set(names).size, names.length, names.join(" "));
  }
}

Deno.test("names: routes added and removed in any order get unique names, equal to a build from scratch", () => {
  fc.assert(
    fc.property(
      fc.array(routeArb, { minLength: 1, maxLength: 12 }),
      fc.array(fc.nat(), { minLength: 1, maxLength: 24 }),
      (specs, order) => {
        const records = specs.map(recordOf);
        // One options object for both builds: claims are kept by record
        // and options, as the daemon's one builder keeps them.
        const options = {};
        const builder = new RouteBuilder(options);
        const present = new Map<string, ContainerRecord>();
        builder.build([]);
        // Each step adds or removes one container, by the generated order.
        for (const pick of order) {
          const record = records[pick % records.length]!;
          const key = recordKey(record);
          if (present.has(key)) present.delete(key);
          else present.set(key, record);
          const table = builder.update([key], (k) => present.get(k));
          assertUniqueNames(table);
          assertEquals(table, buildRoutes([...present.values()], options));
        }
      },
    ),
    { numRuns: 2000 },
  );
});

Deno.test("names: a file with every generated name passes haproxy -c", async () => {
  const specs = fc.sample(routeArb, { numRuns: 400, seed: 31 });
  const table = buildRoutes(specs.map(recordOf));
  assertUniqueNames(table);
  assertTrue(table.routes.length > 50, `${table.routes.length} routes`);
  const check = await haproxyCheck(builtin().render(table));
  assertTrue(check.ok, check.output);
});
