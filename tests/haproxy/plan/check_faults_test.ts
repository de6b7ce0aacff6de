/**
 * The routes at fault in a file the real `haproxy -c` rejected: from the
 * lines its errors name, and by halving the changed routes when they name
 * none.
 */

import { assertEquals } from "../../_fixtures/assert.ts";
import { haproxyCheck } from "../../_fixtures/haproxy.ts";
import { container, ip, labels } from "../../_fixtures/containers.ts";
import { buildRoutes } from "../../../lib/routing/routes.ts";
import {
  atFault,
  changedSince,
  halve,
  namedInError,
} from "../../../lib/haproxy/plan/check_faults.ts";
import type { RenderInput } from "../../../lib/haproxy/render/render.ts";
import { builtin } from "../../_fixtures/render.ts";

const web = (n: number) =>
  container(
    `w${n}`,
    ip(`10.0.0.${n + 2}`),
    labels({ glue_http_80_host: `h${n}.example.com` }),
  );
const table = buildRoutes([0, 1, 2, 3, 4].map(web));
const renderer = builtin();

/** The rendered file with `line` put into backend `backend`'s section. */
function withLine(text: string, backend: string, line: string): string {
  return text.replace(`backend ${backend}\n`, `backend ${backend}\n${line}\n`);
}

async function errorLines(text: string): Promise<string[]> {
  const check = await haproxyCheck(text);
  assertEquals(check.ok, false);
  return check.output.split("\n").filter((l) => l.includes("[ALERT]"));
}

Deno.test("check faults: the line HAProxy names is in a route's backend", async () => {
  const text = withLine(
    renderer.render(table),
    "http_h3.example.com",
    "    server bad no-such-host.invalid:80",
  );
  const found = namedInError(await errorLines(text), text, table);
  assertEquals(found.map((r) => r.backend), ["http_h3.example.com"]);
});

Deno.test("check faults: a backend declared twice names both lines, one route", async () => {
  const text = `${renderer.render(table)}\nbackend http_h1.example.com\n`;
  const found = namedInError(await errorLines(text), text, table);
  assertEquals(found.map((r) => r.backend), ["http_h1.example.com"]);
});

Deno.test("check faults: an error in no route's section names none", async () => {
  const text = renderer.render(table).replace(
    "defaults\n",
    "defaults\n    bogus-keyword\n",
  );
  assertEquals(namedInError(await errorLines(text), text, table), []);
});

Deno.test("check faults: with no line to go by, halving the changed routes finds the one at fault", async () => {
  const accepted: RenderInput = buildRoutes([0, 1].map(web));
  const changed = changedSince(table, accepted);
  assertEquals(changed.map((r) => r.backend).sort(), [
    "http_h2.example.com",
    "http_h3.example.com",
    "http_h4.example.com",
  ]);
  let checks = 0;
  // h3's part of any file it is in fails: a check that never came back.
  const passes = async (part: RenderInput) => {
    checks++;
    const text = renderer.render(part);
    const bad = part.routes.some((r) => r.host === "h3.example.com")
      ? withLine(text, "http_h3.example.com", "    bogus-directive")
      : text;
    return (await haproxyCheck(bad)).ok;
  };
  const found = await halve(table, changed, passes);
  assertEquals(found.map((r) => r.backend), ["http_h3.example.com"]);
  // Without all three, two halvings, and the one found left out alone.
  assertEquals(checks <= 4, true, `${checks} checks`);
  // A fault in a route that did not change is not a changed route's.
  const old = await halve(table, changed, async (part) => {
    const text = renderer.render(part);
    return (await haproxyCheck(
      withLine(text, "http_h0.example.com", "    bogus-directive"),
    )).ok;
  });
  assertEquals(old, []);
});

Deno.test("check faults: a fault any route brings out is no route's, and nothing is left out", async () => {
  const text = renderer.render(table);
  // As a template that breaks every backend: each one's part fails.
  const passes = async (part: RenderInput) => {
    let bad = renderer.render(part);
    for (const route of part.routes) {
      bad = withLine(bad, route.backend, "    bogus-directive");
    }
    return (await haproxyCheck(bad)).ok;
  };
  const error = {
    details: await errorLines(
      withLine(text, "http_h0.example.com", "    bogus-directive"),
    ),
    text,
  };
  assertEquals(await atFault(error, table, null, passes), []);
  // One route's own fault is found from the line HAProxy names.
  const own = withLine(text, "http_h2.example.com", "    bogus-directive");
  const found = await atFault(
    { details: await errorLines(own), text: own },
    table,
    null,
    async (part) => (await haproxyCheck(renderer.render(part))).ok,
  );
  assertEquals(found.map((r) => r.backend), ["http_h2.example.com"]);
});
