/** The ACME politeness rules, without a CA. */

import { assertEquals, assertThrows, assertTrue } from "../_fixtures/assert.ts";
import {
  backoffMs,
  certFileName,
  challengesFor,
  dueAt,
  nextOrderAt,
  ORDER_WINDOW_MS,
  parseBackoff,
  parseChallenge,
  parseOrdersPerHour,
  recentOrders,
  renewalTime,
  uncertifiable,
} from "../../lib/acme/policy.ts";
import { parseState, stateText } from "../../lib/acme/state_file.ts";

Deno.test("acme policy: names a CA cannot certify by HTTP-01 are skipped with the reason", () => {
  assertEquals(uncertifiable("www.example.com"), null);
  assertEquals(uncertifiable("a.b.example.co.uk"), null);
  for (
    const [host, part] of [
      ["", "default host"],
      ["*.example.com", "DNS-01"],
      ["intranet", "without a dot"],
      ["printer.local", ".local"],
      ["app.localhost", ".localhost"],
      ["svc.internal", ".internal"],
      ["10.0.0.1", "IP address"],
    ]
  ) {
    assertTrue(
      uncertifiable(host!)?.includes(part!) === true,
      `${host}: ${uncertifiable(host!)}`,
    );
  }
});

Deno.test("acme policy: with a DNS hook, wildcards are certifiable by DNS-01; plain names keep HTTP-01 unless dns-01 is asked", () => {
  assertEquals(uncertifiable("*.example.com", true), null);
  assertTrue(uncertifiable("*.printer.local", true)?.includes(".local"));
  assertEquals(challengesFor("*.example.com", "http-01", true), ["dns-01"]);
  assertEquals(challengesFor("www.example.com", "http-01", true), [
    "http-01",
    "dns-01",
  ]);
  assertEquals(challengesFor("www.example.com", "http-01", false), ["http-01"]);
  assertEquals(challengesFor("www.example.com", "dns-01", true), ["dns-01"]);
  assertEquals(parseChallenge("dns-01", "/usr/local/bin/hook"), "dns-01");
  assertThrows(
    () => parseChallenge("dns-01", undefined),
    TypeError,
    "--acme-challenge dns-01 needs --acme-dns-hook",
  );
  assertThrows(
    () => parseChallenge("tls-alpn-01", "/h"),
    TypeError,
    "expected http-01 or dns-01",
  );
  assertEquals(certFileName("*.example.com"), "_.example.com.pem");
  assertEquals(certFileName("www.example.com"), "www.example.com.pem");
});

Deno.test("acme policy: renewal once a third of the lifetime is left", () => {
  const from = new Date("2026-01-01T00:00:00Z");
  const to = new Date("2026-04-01T00:00:00Z"); // 90 days
  assertEquals(
    new Date(renewalTime(from, to)).toISOString(),
    "2026-03-02T00:00:00.000Z",
  );
});

Deno.test("acme policy: back-off doubles from the base up to the maximum", () => {
  const backoff = { baseMs: 60_000, maxMs: 86_400_000 };
  assertEquals(
    [1, 2, 3, 4, 12, 20, 500].map((n) => backoffMs(n, backoff)),
    [60_000, 120_000, 240_000, 480_000, 86_400_000, 86_400_000, 86_400_000],
  );
});

Deno.test("acme policy: a name is due at renewal, never inside its back-off window", () => {
  const current = {
    notBefore: new Date(0),
    notAfter: new Date(90_000),
  };
  assertEquals(dueAt(undefined, undefined), 0);
  assertEquals(dueAt(current, undefined), 60_000);
  assertEquals(dueAt(undefined, { failures: 2, notBefore: 5_000 }), 5_000);
  assertEquals(dueAt(current, { failures: 1, notBefore: 70_000 }), 70_000);
  assertEquals(dueAt(current, { failures: 0, notBefore: 1_000 }), 60_000);
});

Deno.test("acme policy: --acme-backoff reads base[:max]", () => {
  assertEquals(parseBackoff("1m:24h"), { baseMs: 60_000, maxMs: 86_400_000 });
  assertEquals(parseBackoff("30s"), { baseMs: 30_000, maxMs: 86_400_000 });
  assertEquals(parseBackoff("500ms:4s"), { baseMs: 500, maxMs: 4_000 });
  for (const bad of ["", "1", "0s", "5m:1m", "1d", "x:y"]) {
    assertThrows(() => parseBackoff(bad), TypeError, "Invalid ACME back-off");
  }
});

Deno.test("acme policy: at most n new orders in any hour, across names", () => {
  const now = 10 * ORDER_WINDOW_MS;
  const min = 60_000;
  assertEquals(nextOrderAt([], 3, now), now);
  // Two in the last hour, one older: room for a third.
  const orders = [now - 90 * min, now - 50 * min, now - 10 * min];
  assertEquals(nextOrderAt(orders, 3, now), now);
  // Full: the next slot opens when the oldest of the hour leaves it.
  assertEquals(nextOrderAt(orders, 2, now), now - 50 * min + ORDER_WINDOW_MS);
  assertEquals(nextOrderAt(orders, 1, now), now - 10 * min + ORDER_WINDOW_MS);
  assertEquals(recentOrders(orders, now), [now - 50 * min, now - 10 * min]);
  assertEquals(parseOrdersPerHour("30"), 30);
  for (const bad of ["0", "-1", "1.5", "x", ""]) {
    assertThrows(() => parseOrdersPerHour(bad), TypeError, "orders per hour");
  }
});

Deno.test("acme state file: names and recent orders round-trip; the first format still reads", () => {
  const names = new Map([
    ["a.example.com", { failures: 2, notBefore: 5, lastError: "timeout" }],
  ]);
  const back = parseState(stateText(names, [1, 2]));
  assertEquals([...back.names], [...names]);
  assertEquals(back.orders, [1, 2]);
  const old = parseState(
    '{"b.example.com":{"failures":1,"notBefore":9},"x":3}',
  );
  assertEquals([...old.names], [["b.example.com", {
    failures: 1,
    notBefore: 9,
  }]]);
  assertEquals(old.orders, []);
  assertThrows(() => parseState("[]"), SyntaxError);
});
