/**
 * The end-to-end benchmarks' short versions, so they cannot rot: each must
 * run to the end against the real engine and a managed HAProxy (and Pebble)
 * and print every row.
 * Its timings are not asserted (machines are noisy); what a user would
 * notice is: joining a host and a rolling replacement reload nothing.
 */

import { assertEquals, assertIncludes } from "../_fixtures/assert.ts";
import { ROOT } from "./_harness.ts";

/** Runs a benchmark's short version; returns what it printed. */
async function quick(script: string): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-run",
      "--allow-net",
      "--allow-env",
      script,
      "--quick",
    ],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assertEquals(out.code, 0, text + new TextDecoder().decode(out.stderr));
  return text;
}

Deno.test({
  name: "bench: the end-to-end benchmark's short version runs and reports",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const text = await quick("bench/e2e.ts");
    assertIncludes(text, "machine: ");
    assertIncludes(text, "HAProxy version");
    const join =
      /\| start-to-route, joining an existing host, p50 \/ p95 \| [0-9]+ \| [0-9]+ ms \/ [0-9]+ ms \(0 reloads/
        .exec(text);
    assertEquals(join !== null, true, `no reload-free join row in:\n${text}`);
    assertIncludes(text, "| start-to-route, new host, p50 / p95 |");
    assertIncludes(text, "| docker-balancer resident memory |");
    assertIncludes(text, "started together: last start to last route |");
    assertIncludes(
      text,
      "| rolling replacement of 4 containers | 9 | 0 reloads |",
    );
    // The agent's row: a script ran for every container it started.
    const agent = /\| docker-glue \| -?[0-9]+ ms \| -?[0-9]+ ms \| [0-9]+ ms \|/
      .exec(text);
    assertEquals(agent !== null, true, `no agent row in:\n${text}`);
  },
});

Deno.test({
  name:
    "bench: the HTTPS benchmark's short version runs; certificates change and renew with no reload and no failed request",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const text = await quick("bench/https.ts");
    assertIncludes(text, "machine: ");
    const swap =
      /\| certificate replaced in the directory to served, p50 \/ p95 \| 3 \| [0-9]+ ms \/ [0-9]+ ms \(0 reloads\)/
        .exec(text);
    assertEquals(swap !== null, true, text);
    assertIncludes(text, "| new tls container: docker run returned to HTTPS");
    assertIncludes(text, "| ACME issuance as logged");
    const renewal =
      /\| renewal under HTTPS load: request to new certificate served \| 1 \| [0-9]+ ms; [0-9]+ requests, 0 failed, 0 reloads/
        .exec(text);
    assertEquals(renewal !== null, true, text);
  },
});

Deno.test({
  name: "bench: the etcd benchmark's short version runs and reports",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const text = await quick("bench/etcd.ts");
    assertIncludes(text, "machine: ");
    for (const size of [20, 100]) {
      for (const kind of ["join", "new host"]) {
        const found = new RegExp(
          `\\| put to routed, ${kind} \\| ${size} \\| [0-9]+ ms \\| [0-9]+ ms \\| [0-9]+ ms \\|`,
        ).exec(text);
        assertEquals(
          found !== null,
          true,
          `no ${kind} row at ${size} in:\n${text}`,
        );
      }
    }
    assertIncludes(text, "| docker-balancer resident memory |");
  },
});

Deno.test({
  name:
    "bench: the forward-auth benchmark's short version runs; no request fails with or without it",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const text = await quick("bench/forward_auth.ts");
    assertIncludes(text, "machine: ");
    for (const route of ["without forward auth", "with forward auth"]) {
      const found = new RegExp(
        `\\| ${route} \\| [0-9]+ \\| [0-9.]+ ms \\| [0-9.]+ ms \\| 0 \\|`,
      ).exec(text);
      assertEquals(found !== null, true, `no ${route} row in:\n${text}`);
    }
    assertIncludes(text, "| forward auth's cost |");
  },
});
