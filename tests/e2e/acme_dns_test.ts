/**
 * DNS-01 against Pebble: a hook in lego's exec convention (`present` /
 * `cleanup` with the record's FQDN and value) writes the TXT record into
 * pebble-challtestsrv, Pebble's DNS server, through its management API.
 * A wildcard host labelled `tls` gets a wildcard certificate; a plain host
 * keeps HTTP-01 without calling the hook; a hook that fails backs off like
 * a failed order.
 */

import {
  assertEquals,
  assertIncludes,
  assertTrue,
} from "../_fixtures/assert.ts";
import { withCleanup } from "../_fixtures/cleanup.ts";
import { managedBalancer, runContainer, waitFor } from "./_harness.ts";
import { pebbleSetup } from "./_pebble.ts";
import { httpsGet } from "./_tls.ts";

/** A hook as an operator would write it for their DNS provider's API. */
function hookScript(api: string, log: string): string {
  return `#!/bin/sh
# $1: present or cleanup; $2: the record's FQDN; $3: its value.
echo "$1 $2 $3" >> ${log}
case "$2" in *fail*) echo "the DNS provider refused $2" >&2; exit 3 ;; esac
case "$1" in
  present) curl -fsS -X POST -d "{\\"host\\":\\"$2\\",\\"value\\":\\"$3\\"}" ${api}/set-txt ;;
  cleanup) curl -fsS -X POST -d "{\\"host\\":\\"$2\\"}" ${api}/clear-txt ;;
esac
`;
}

Deno.test({
  name:
    "e2e acme dns-01: a wildcard certificate by a hook writing TXT records into Pebble's DNS; plain hosts keep HTTP-01; a failing hook backs off",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: (t) =>
    withCleanup(async (cleanup) => {
      const { net, dir, http, https, work, pebble, root } = await pebbleSetup(
        cleanup,
        "docker-glue-test-acme-dns",
        3600,
      );
      const hook = `${dir.path}/dns-hook.sh`;
      const hookLog = `${work}/hook.log`;
      await Deno.writeTextFile(hook, hookScript(pebble.challtestsrv, hookLog), {
        mode: 0o755,
      });
      await Deno.chmod(hook, 0o755);
      const balancer = await managedBalancer(
        cleanup,
        [
          ...dir.listenArgs(http),
          ...dir.httpsArgs(https),
          ...await pebble.balancerArgs(dir.path),
          "--acme-dns-hook",
          hook,
        ],
        // As `deno task compile --allow-run=<hook>` builds it.
        [`--allow-run=${hook}`],
      );
      const calls = async () =>
        (await Deno.readTextFile(hookLog).catch(() => "")).split("\n")
          .filter(Boolean);

      await t.step(
        "a wildcard host gets a wildcard certificate by DNS-01",
        async () => {
          const t0 = performance.now();
          await runContainer("dg-dns-wild", {
            network: net.name,
            labels: {
              glue_http_80_host: "*.wild.example.com",
              glue_http_80_tls: "1",
            },
          });
          await balancer.waitForLine(
            /ACME: requesting a certificate for \*\.wild\.example\.com by dns-01/,
          );
          await balancer.waitForLine(
            /ACME: issued a certificate for \*\.wild\.example\.com/,
            30000,
          );
          for (const name of ["a.wild.example.com", "b.wild.example.com"]) {
            const r = await waitFor(
              `${name} over HTTPS`,
              async () => {
                const r = await httpsGet(https, name, "/whoami", [root]).catch(
                  () => undefined,
                );
                return r?.status === 200 ? r : undefined;
              },
              15000,
              50,
            );
            assertEquals(r.body, "dg-dns-wild /");
          }
          console.log(
            `wildcard: container start to HTTPS with a DNS-01 certificate ${
              (performance.now() - t0).toFixed(0)
            } ms`,
          );
          const [present, cleanup] = await waitFor(
            "the hook's cleanup",
            async () => {
              const c = await calls();
              return c.length >= 2 ? c : undefined;
            },
            10000,
          );
          const match =
            /^present _acme-challenge\.wild\.example\.com\. ([A-Za-z0-9_-]{43})$/
              .exec(present ?? "");
          assertTrue(match !== null, `unexpected hook call: ${present}`);
          assertEquals(
            cleanup,
            `cleanup _acme-challenge.wild.example.com. ${match[1]}`,
          );
          assertTrue(
            (await Deno.stat(`${dir.certs}/_.wild.example.com.pem`)).isFile,
          );
        },
      );

      await t.step(
        "a plain host keeps HTTP-01: the hook is not called",
        async () => {
          const before = (await calls()).length;
          await runContainer("dg-dns-plain", {
            network: net.name,
            labels: {
              glue_http_80_host: "plain.example.com",
              glue_http_80_tls: "1",
            },
          });
          await balancer.waitForLine(
            /ACME: requesting a certificate for plain\.example\.com by http-01/,
          );
          await balancer.waitForLine(
            /ACME: issued a certificate for plain\.example\.com/,
            30000,
          );
          assertEquals((await calls()).length, before);
        },
      );

      await t.step("a failing hook backs off like a failed order", async () => {
        await runContainer("dg-dns-fail", {
          network: net.name,
          labels: {
            glue_http_80_host: "*.fail.example.com",
            glue_http_80_tls: "1",
          },
        });
        const first = await balancer.waitForLine(
          /ACME: certificate for \*\.fail\.example\.com failed \(1 in a row\)/,
          30000,
        );
        assertIncludes(first, "exited with status 3: the DNS provider refused");
        assertIncludes(first, "next try in 1 s");
        await balancer.waitForLine(
          /ACME: certificate for \*\.fail\.example\.com failed \(2 in a row\).*next try in 2 s/,
          30000,
        );
      });
    }),
});
