/**
 * ACME end to end against Pebble, a real ACME server on loopback: a
 * labelled container gets a certificate by HTTP-01 answered through
 * HAProxy, the certificate is renewed with no reload and no failed request
 * under load, and with Pebble stopped existing certificates keep serving
 * while issuance retries with back-off.
 */

import {
  assertEquals,
  assertIncludes,
  assertTrue,
} from "../_fixtures/assert.ts";
import {
  clearLeftoverContainers,
  ensureImage,
  freePort,
  managedBalancer,
  masterReloads,
  Process,
  runContainer,
  sh,
  testHaproxyDir,
  testNetwork,
  waitFor,
} from "./_harness.ts";
import { httpsGet, servedCert } from "./_tls.ts";
import { pebbleSetup } from "./_pebble.ts";
import { accountKeyFile } from "../../lib/acme/account.ts";
import { type Cleanup, withCleanup } from "../_fixtures/cleanup.ts";
import type { HAProxyDir } from "./_harness/haproxy.ts";

/** Lifetime of Pebble's certificates: renewal is due after two thirds. */
const VALIDITY_S = 30;

/** When each line matching `pattern` was logged, from its timestamp (ms). */
function loggedAt(lines: readonly string[], pattern: RegExp): number[] {
  return lines.filter((line) => pattern.test(line)).map((line) =>
    Date.parse(line.slice(0, line.indexOf(" ")))
  );
}

/**
 * Waits for `waits.length + 1` attempts at a certificate for `host` and
 * checks, from the log's timestamps, that the time from each failure to the
 * next attempt is the back-off (`--acme-backoff 1s:...`: 1, 2, 4 s). A
 * failure's time is taken when it is logged, a moment after the next try
 * was set, and the timer fires a moment late: 250 ms early to 750 ms late
 * is allowed, which still tells 1 s from 2 s and 2 s from 4 s.
 */
async function assertBacksOff(
  balancer: Process,
  host: string,
  waits: number[],
): Promise<void> {
  const name = host.replaceAll(".", "\\.");
  const attempt = new RegExp(`ACME: requesting a certificate for ${name} `);
  const failure = new RegExp(`ACME: certificate for ${name} failed`);
  await waitFor(
    `${waits.length + 1} attempts at ${host}`,
    () =>
      Promise.resolve(
        loggedAt(balancer.lines, failure).length > waits.length
          ? true
          : undefined,
      ),
    waits.reduce((a, b) => a + b, 0) * 1000 + 20000,
    100,
  );
  const attempts = loggedAt(balancer.lines, attempt);
  const failures = loggedAt(balancer.lines, failure);
  const gaps = waits.map((_, i) => attempts[i + 1]! - failures[i]!);
  console.log(
    `${host}: failure to next attempt ${gaps.join(" ms, ")} ms (back-off ${
      waits.join(" s, ")
    } s)`,
  );
  waits.forEach((wait, i) => {
    const gap = gaps[i]!;
    assertTrue(
      gap >= wait * 1000 - 250 && gap <= wait * 1000 + 750,
      `${host}: failure ${
        i + 1
      } to the next attempt took ${gap} ms, not about ${wait} s (all: ${
        gaps.join(", ")
      } ms)`,
    );
  });
}

/** Writes an empty account key where the balancer keeps the one for `directory`. */
async function emptyAccountKey(
  certs: string,
  directory: string,
): Promise<string> {
  const file = await accountKeyFile(certs, directory);
  await Deno.mkdir(`${certs}/.acme`, { recursive: true, mode: 0o700 });
  await Deno.writeTextFile(file, "");
  return file;
}

Deno.test({
  name:
    "e2e acme: certificates from Pebble by HTTP-01 through HAProxy, renewed without reload or failed request, back-off while the CA is down",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: (t) =>
    withCleanup(async (cleanup) => {
      const { net, dir, http, https, work, pebble, root } = await pebbleSetup(
        cleanup,
        "docker-glue-test-acme",
        VALIDITY_S,
      );
      const certs = dir.certs;
      const acmeArgs = await pebble.balancerArgs(dir.path);
      // An account key a power loss left empty: replaced, not a failure loop.
      const accountKey = await emptyAccountKey(
        certs,
        acmeArgs[acmeArgs.indexOf("--acme-directory") + 1] ?? "",
      );
      const started = await managedBalancer(cleanup, [
        ...dir.listenArgs(http),
        ...dir.httpsArgs(https),
        ...acmeArgs,
      ]);
      const figures: string[] = [];

      await t.step(
        "a labelled container gets a certificate and is reached over HTTPS",
        async () => {
          const t0 = performance.now();
          // The HTTP-01 token goes into the ACME map through the runtime
          // API: an order reloads nothing (issue 31 saw one or two).
          const reloadsBefore = await masterReloads();
          const logged = started.count(/Reloaded HAProxy/);
          await runContainer("dg-acme-1", {
            network: net.name,
            labels: {
              glue_http_80_host: "acme1.example.com",
              glue_http_80_tls: "1",
            },
          });
          const r = await waitFor(
            "acme1 over HTTPS with Pebble's root",
            async () => {
              try {
                const r = await httpsGet(
                  https,
                  "acme1.example.com",
                  "/whoami",
                  [
                    root,
                  ],
                );
                return r.status === 200 ? r : undefined;
              } catch {
                return undefined;
              }
            },
            20000,
            20,
          );
          assertEquals(r.body, "dg-acme-1 /");
          // As an operator would check it: curl trusting Pebble's root only.
          const rootFile = `${work}/root.pem`;
          await Deno.writeTextFile(rootFile, root);
          assertEquals(
            await sh(
              "curl",
              "-sS",
              "--cacert",
              rootFile,
              "--resolve",
              `acme1.example.com:${https}:127.0.0.1`,
              `https://acme1.example.com:${https}/whoami`,
            ),
            "dg-acme-1 /",
          );
          figures.push(
            `container start to HTTPS with a Pebble certificate: ${
              (performance.now() - t0).toFixed(0)
            } ms`,
          );
          const issued = await started.waitForLine(
            /ACME: issued a certificate for acme1\.example\.com/,
          );
          assertEquals(await masterReloads(), reloadsBefore);
          assertEquals(started.count(/Reloaded HAProxy/), logged);
          figures.push(issued.replace(/^.*ACME: /, ""));
          const mode = (await Deno.stat(`${certs}/acme1.example.com.pem`)).mode;
          assertEquals((mode ?? 0) & 0o777, 0o600);
          assertEquals(
            started.count(/ACME: the account key \S+ is not a private key/),
            1,
          );
          assertIncludes(await Deno.readTextFile(accountKey), "PRIVATE KEY");
          assertEquals((await Deno.stat(accountKey)).mode! & 0o777, 0o600);
        },
      );

      await t.step(
        "a host that cannot have a certificate is skipped with a warning",
        async () => {
          await runContainer("dg-acme-local", {
            network: net.name,
            labels: {
              glue_http_80_host: "intranet.local",
              glue_http_80_tls: "1",
            },
          });
          await started.waitForLine(
            /ACME: no certificate for intranet\.local: \.local is a private top-level domain/,
          );
        },
      );

      await t.step(
        "renewal at two thirds of the lifetime: no reload, no failed request under load",
        async () => {
          const before = await masterReloads();
          const first = await servedCert(https, "acme1.example.com");
          let ok = 0;
          const failures: string[] = [];
          let stop = false;
          const worker = async () => {
            while (!stop) {
              try {
                const r = await httpsGet(
                  https,
                  "acme1.example.com",
                  "/whoami",
                  [
                    root,
                  ],
                );
                if (r.status === 200) ok++;
                else failures.push(`status ${r.status}`);
              } catch (error) {
                failures.push(String(error));
              }
            }
          };
          const workers = [worker(), worker()];
          try {
            await started.waitForLine(
              /ACME: requesting a certificate for acme1\.example\.com by http-01 \(renewal/,
              VALIDITY_S * 1000,
            );
            await waitFor(
              "the renewed certificate served",
              async () =>
                (await servedCert(https, "acme1.example.com")).fingerprint !==
                    first.fingerprint
                  ? true
                  : undefined,
              10000,
              50,
            );
            // Keep the load on a little past the swap.
            await new Promise((r) => setTimeout(r, 500));
          } finally {
            stop = true;
            await Promise.all(workers);
          }
          assertEquals(failures.slice(0, 3), []);
          assertTrue(ok > 50, `${ok} requests`);
          assertEquals(await masterReloads(), before);
          const renewed = started.lines.filter((line) =>
            /ACME: renewed the certificate for acme1\.example\.com/.test(line)
          );
          assertTrue(renewed.length > 0, "no renewal in the log");
          figures.push(
            `renewal: ${
              renewed.at(-1)?.replace(/^.*ACME: /, "")
            }; ${ok} HTTPS requests, 0 failed, 0 reloads`,
          );
        },
      );

      await t.step(
        "a name that fails validation backs off",
        async () => {
          // Pebble validates at an address where nothing listens.
          await pebble.resolve("unreachable.example.com", "127.0.0.2");
          await runContainer("dg-acme-bad", {
            network: net.name,
            labels: {
              glue_http_80_host: "unreachable.example.com",
              glue_http_80_tls: "1",
            },
          });
          const one = await started.waitForLine(
            /ACME: certificate for unreachable\.example\.com failed \(1 in a row\)/,
          );
          assertIncludes(one, "127.0.0.2");
          await assertBacksOff(started, "unreachable.example.com", [1, 2]);
        },
      );

      await t.step(
        "with the CA down, certificates keep serving and issuance backs off",
        async () => {
          await pebble.stop();
          await runContainer("dg-acme-2", {
            network: net.name,
            labels: {
              glue_http_80_host: "acme2.example.com",
              glue_http_80_tls: "1",
            },
          });
          const one = await started.waitForLine(
            /ACME: certificate for acme2\.example\.com failed \(1 in a row\)/,
          );
          assertIncludes(one, "ECONNREFUSED");
          await assertBacksOff(started, "acme2.example.com", [1, 2, 4]);
          const r = await httpsGet(https, "acme1.example.com", "/whoami", [
            root,
          ]);
          assertEquals(r.body, "dg-acme-1 /");
        },
      );
      console.log(figures.join("\n"));
    }),
});

/**
 * A managed docker-balancer with HTTPS whose ACME CA is at Pebble's
 * address, where the test puts its own stand-in (or nothing).
 */
function noPebbleBalancer(
  cleanup: Cleanup,
  dir: HAProxyDir,
  extra: string[] = [],
) {
  return managedBalancer(cleanup, [
    ...dir.listenArgs(freePort()),
    ...dir.httpsArgs(freePort()),
    "--acme-directory",
    "https://127.0.0.1:14000/dir",
    "--acme-email",
    "ops@example.com",
    ...extra,
  ]);
}

Deno.test({
  name:
    "e2e acme: a stop during an order does not wait for a CA that does not answer",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withCleanup(async (cleanup) => {
      await ensureImage();
      await clearLeftoverContainers();
      const net = await testNetwork(cleanup, "docker-glue-test-acme-stop");
      const dir = await testHaproxyDir(cleanup);
      // A CA that takes connections and never answers (Pebble's address,
      // which the binary may reach).
      const silent = Deno.listen({ hostname: "127.0.0.1", port: 14000 });
      const held: Deno.Conn[] = [];
      cleanup.defer("the silent CA", () => {
        silent.close();
        for (const conn of held) conn.close();
      });
      void (async () => {
        try {
          for await (const conn of silent) held.push(conn);
        } catch { /* closed */ }
      })();
      const balancer = await noPebbleBalancer(cleanup, dir);
      await runContainer("dg-acme-stop", {
        network: net.name,
        labels: {
          glue_http_80_host: "stop.example.com",
          glue_http_80_tls: "1",
        },
      });
      await balancer.waitForLine(/ACME: requesting a certificate for stop/);
      await waitFor(
        "the CA's connection",
        () => Promise.resolve(held.length > 0 || undefined),
      );
      const t0 = performance.now();
      const status = await balancer.stop();
      const seconds = (performance.now() - t0) / 1000;
      console.log(`stopped ${seconds.toFixed(1)} s after SIGTERM`);
      assertEquals(status.code, 0);
      // systemd's TimeoutStopSec is 15 s; HAProxy's soft stop takes some.
      assertTrue(seconds < 8, `stopped after ${seconds.toFixed(1)} s`);
      assertTrue(
        balancer.lines.some((line) =>
          line.includes("ACME: stopped the request for stop.example.com")
        ),
        balancer.lines.slice(-10).join("\n"),
      );
    }),
});

Deno.test({
  name:
    "e2e acme: new orders stop at --acme-orders-per-hour across names, with one line",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withCleanup(async (cleanup) => {
      await ensureImage();
      await clearLeftoverContainers();
      const net = await testNetwork(cleanup, "docker-glue-test-acme-limit");
      const dir = await testHaproxyDir(cleanup);
      // Nothing listens at Pebble's address: every order fails at once,
      // and still counts, as a CA counts it.
      const balancer = await noPebbleBalancer(cleanup, dir, [
        "--acme-orders-per-hour",
        "1",
      ]);
      for (const name of ["a", "b"]) {
        await runContainer(`dg-acme-limit-${name}`, {
          network: net.name,
          labels: {
            glue_http_80_host: `${name}.limit.example.com`,
            glue_http_80_tls: "1",
          },
        });
      }
      await balancer.waitForLine(
        /ACME: certificate for a\.limit\.example\.com failed/,
      );
      const limit = await balancer.waitForLine(
        /ACME: 1 new orders in the last hour, the limit/,
      );
      assertIncludes(limit, "b.limit.example.com");
      // More changes, and time: no order for b, and the limit said once.
      await runContainer("dg-acme-limit-c", {
        network: net.name,
        labels: { glue_http_80_host: "c.limit.example.com" },
      });
      await new Promise((r) => setTimeout(r, 2000));
      assertEquals(
        balancer.count(/ACME: requesting a certificate for b\.limit/),
        0,
      );
      assertEquals(balancer.count(/ACME: 1 new orders in the last hour/), 1);
    }),
});
