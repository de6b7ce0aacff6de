/**
 * The end-to-end benchmark's short version, so it cannot rot: it must run to
 * the end against the real engine and a managed HAProxy and print every row.
 * Its timings are not asserted (machines are noisy); what a user would
 * notice is: joining a host and a rolling replacement reload nothing.
 */

import { assertEquals, assertIncludes } from "../_fixtures/assert.ts";
import { ROOT } from "./_harness.ts";

Deno.test({
  name: "bench: the end-to-end benchmark's short version runs and reports",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-write",
        "--allow-run",
        "--allow-net",
        "--allow-env",
        "bench/e2e.ts",
        "--quick",
      ],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assertEquals(out.code, 0, text + new TextDecoder().decode(out.stderr));
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
      "| rolling replacement of 4 containers | 14 | 0 reloads |",
    );
  },
});
