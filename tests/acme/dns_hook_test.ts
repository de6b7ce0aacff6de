/** The DNS-01 hook, run for real: a script in lego's exec convention. */

import {
  assertEquals,
  assertRejects,
  assertTrue,
} from "../_fixtures/assert.ts";
import { withTempDir } from "../_fixtures/cleanup.ts";
import { challengeRecord, DnsHook } from "../../lib/acme/dns_hook.ts";

const VALUE = "MsijOYZxqyjGnFGwhjrhfg-Xgbl5r68WPda0J9EgqqI";

async function hook(dir: string, body: string): Promise<string> {
  const path = `${dir}/hook.sh`;
  await Deno.writeTextFile(path, `#!/bin/sh\n${body}\n`);
  await Deno.chmod(path, 0o755);
  return path;
}

Deno.test("dns hook: the record of a name and of a wildcard, with lego's trailing dot", () => {
  assertEquals(challengeRecord("example.com"), "_acme-challenge.example.com.");
  assertEquals(
    challengeRecord("*.example.com"),
    "_acme-challenge.example.com.",
  );
});

Deno.test("dns hook: gets action, FQDN and value as argv; a failure says the hook, the record and its last words", async () => {
  await withTempDir("docker-glue-dns-hook-", async (dir) => {
    const ok = new DnsHook(await hook(dir, `echo "$1|$2|$3|$#" > ${dir}/args`));
    await ok.run("present", "_acme-challenge.example.com.", VALUE);
    assertEquals(
      await Deno.readTextFile(`${dir}/args`),
      `present|_acme-challenge.example.com.|${VALUE}|3\n`,
    );
    const failing = new DnsHook(
      await hook(dir, 'echo "no credentials for $2" >&2; exit 7'),
    );
    await assertRejects(
      () => failing.run("present", "_acme-challenge.example.com.", VALUE),
      Error,
      `DNS hook ${dir}/hook.sh present _acme-challenge.example.com. exited with status 7: no credentials for _acme-challenge.example.com.`,
    );
    await assertRejects(
      () =>
        new DnsHook(`${dir}/missing`).run(
          "cleanup",
          "_acme-challenge.a.b.",
          VALUE,
        ),
      Error,
      "could not start",
    );
  });
});

Deno.test("dns hook: one that hangs is killed after its timeout; odd characters never reach it", async () => {
  await withTempDir("docker-glue-dns-hook-", async (dir) => {
    const slow = new DnsHook(await hook(dir, "exec sleep 30"), 200);
    const started = Date.now();
    await assertRejects(
      () => slow.run("present", "_acme-challenge.example.com.", VALUE),
      Error,
      "killed after 0.2 s",
    );
    assertTrue(Date.now() - started < 5000);
    await assertRejects(
      () =>
        slow.run("present", "_acme-challenge.example.com.; rm -rf /", VALUE),
      TypeError,
      "Unexpected characters",
    );
  });
});
