/**
 * One container's labels within bounds: a value too long drops its label,
 * a host list too long drops its port, too many routes or labels drop the
 * container; a good container beside each is routed as before. And a
 * container with many ports and labels is read in time linear in them.
 */

import {
  assertEquals,
  assertIncludes,
  assertTrue,
} from "../_fixtures/assert.ts";
import { summary, warningsOf } from "../_fixtures/routes.ts";
import { container, exposes, ip, labels } from "../_fixtures/containers.ts";
import { buildRoutes } from "../../lib/routing/routes.ts";
import {
  MAX_GLUE_LABELS,
  MAX_HOSTS,
  MAX_LABEL_VALUE,
  MAX_ROUTES,
} from "../../lib/routing/route_limits.ts";

const good = container(
  "good",
  ip("10.0.0.9"),
  labels({ glue_http_80_host: "good.example.com" }),
);
const GOOD_ROUTE = "good.example.com/ -> good@10.0.0.9:80*100";

function names(n: number): string {
  return Array.from({ length: n }, (_, i) => `h${i}.example.com`).join(",");
}

function ports(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${10000 + i}/tcp`);
}

const cases: {
  description: string;
  hostile: ReturnType<typeof container>;
  routes: string[];
  says: string;
}[] = [
  {
    description:
      `a label value over ${MAX_LABEL_VALUE} characters drops that label`,
    hostile: container(
      "long",
      ip("10.0.0.2"),
      labels({
        glue_http_80_host: "long.example.com",
        glue_http_80_prefix: `/${"a".repeat(MAX_LABEL_VALUE)}`,
        glue_http_8080_host: `${"a".repeat(MAX_LABEL_VALUE)}.com`,
      }),
      exposes("80/tcp", "8080/tcp"),
    ),
    // The prefix label is not read: port 80 is routed without it.
    routes: ["long.example.com/ -> long@10.0.0.2:80*100"],
    says: `more than ${MAX_LABEL_VALUE}`,
  },
  {
    description: `a host list of more than ${MAX_HOSTS} names drops its port`,
    hostile: container(
      "many",
      ip("10.0.0.2"),
      labels({
        glue_http_80_host: names(MAX_HOSTS + 1),
        glue_http_8080_host: "ok.example.com",
      }),
      exposes("80/tcp", "8080/tcp"),
    ),
    routes: ["ok.example.com/ -> many@10.0.0.2:8080*100"],
    says: `more than ${MAX_HOSTS}`,
  },
  {
    description:
      `a container asking for more than ${MAX_ROUTES} routes gets none`,
    hostile: container(
      "wide",
      ip("10.0.0.2"),
      labels({
        glue_http_80_host: names(MAX_HOSTS),
        glue_http_81_host: names(MAX_HOSTS),
        glue_http_82_host: names(MAX_HOSTS),
      }),
      exposes("80/tcp", "81/tcp", "82/tcp"),
    ),
    routes: [],
    says: `more than ${MAX_ROUTES} for one container`,
  },
  {
    description:
      `a container with more than ${MAX_GLUE_LABELS} glue labels gets none`,
    hostile: container(
      "labelled",
      ip("10.0.0.2"),
      labels(Object.fromEntries(
        ports(MAX_GLUE_LABELS + 1).map((p) => [
          `glue_http_${p.slice(0, 5)}_weight`,
          "1",
        ]).concat([["glue_http_80_host", "labelled.example.com"]]),
      )),
    ),
    routes: [],
    says: `more than ${MAX_GLUE_LABELS}`,
  },
];

for (const c of cases) {
  Deno.test(`route limits: ${c.description}; the container beside it is routed`, () => {
    const table = buildRoutes([c.hostile, good]);
    const routes = summary(table);
    assertTrue(routes.includes(GOOD_ROUTE), routes.join("\n"));
    assertEquals(routes.filter((r) => r !== GOOD_ROUTE), c.routes);
    const warnings = table.findings.filter((f) => f.severity === "warning");
    assertTrue(
      warnings.length > 0 && warnings.length <= 2,
      warningsOf(table).join(),
    );
    assertIncludes(warnings.map((w) => w.message).join("\n"), c.says);
    // One clear line: long values are not quoted back whole.
    for (const w of warnings) assertTrue(w.message.length < 300, w.message);
  });
}

Deno.test("route limits: a container's header labels are read once, not once per port", () => {
  // Every port at the limit of labels, each with a header: with the labels
  // sorted for each port, twice, this grew with ports times labels.
  const n = MAX_GLUE_LABELS / 2;
  const given: Record<string, string> = {};
  for (let i = 0; i < n; i++) {
    given[`glue_http_${10000 + i}_host`] = `p${i}.example.com`;
    given[`glue_http_${10000 + i}_request_header_X-P`] = String(i);
  }
  const wide = container(
    "wide",
    ip("10.0.0.2"),
    labels(given),
    exposes(...ports(n)),
  );
  const started = performance.now();
  const table = buildRoutes([wide, good]);
  const ms = performance.now() - started;
  assertEquals(table.routes.length, n + 1);
  for (const route of table.routes) {
    if (route.host === "good.example.com") continue;
    assertEquals(route.settings.requestHeaders.length, 1, route.host);
  }
  // About 20 ms here; the bound leaves room for a loaded CI machine.
  assertTrue(ms < 1000, `${ms.toFixed(0)} ms`);
});
