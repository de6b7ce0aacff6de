/**
 * HTTPS benchmark: docker-balancer from source with its compiled
 * permissions, the HAProxy it manages with an HTTPS frontend, and Pebble as
 * the ACME server on loopback. Prints the machine and, as Markdown rows for
 * docs/BENCHMARKS.md:
 *
 * - a certificate replaced in the certificate directory: time until HAProxy
 *   serves it, p50/p95, and reloads;
 * - a new container labelled tls: time from `docker run -d` returning until
 *   it answers over HTTPS with a certificate from Pebble (the floor is
 *   `docker run -d`'s own time), and the issuance time the log reports;
 * - a renewal under HTTPS load: time from the renewal request to the new
 *   certificate being served, failed requests and reloads.
 *
 * Usage: `deno task bench:https` (about 2 minutes), or `--quick` for the
 * short version the tests run so the benchmark cannot rot.
 *
 * @module
 */

import {
  createNetwork,
  ensureImage,
  freePort,
  haproxyDir,
  removeContainers,
  runContainer,
  startBalancer,
} from "../tests/e2e/_harness.ts";
import {
  createCa,
  fingerprintOf,
  httpsGet,
  servedCert,
} from "../tests/e2e/_tls.ts";
import { startPebble } from "../tests/e2e/_pebble.ts";
import { ms, percentile, printRun, reloads, row } from "./_common.ts";

const quick = Deno.args.includes("--quick");
const SAMPLES = quick ? 3 : 15;
/** Pebble's certificate lifetime: renewal comes after two thirds. */
const VALIDITY_S = quick ? 15 : 30;

/** Polls until `probe` is true; returns when it was, or throws after `limitMs`. */
async function until(
  what: string,
  probe: () => Promise<boolean>,
  limitMs = 30_000,
): Promise<number> {
  const deadline = performance.now() + limitMs;
  while (performance.now() < deadline) {
    if (await probe().catch(() => false)) return performance.now();
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`${what}: not within ${limitMs} ms`);
}

await ensureImage();
await removeContainers();
const net = await createNetwork("docker-glue-bench-https");
const dir = await haproxyDir();
const certs = dir.certs;
await Deno.mkdir(certs);
const work = await Deno.makeTempDir({ prefix: "docker-glue-bench-tls-" });
const http = freePort();
const https = freePort();
const pebble = await startPebble(work, http, VALIDITY_S);
const root = await pebble.root();
const balancer = startBalancer([
  "-w",
  "--haproxy",
  "managed",
  ...dir.listenArgs(http),
  ...dir.httpsArgs(https),
  ...(await pebble.balancerArgs(dir.path)),
]);
try {
  await printRun(
    "bench:https",
    quick,
    `Pebble certificates valid ${VALIDITY_S} s`,
  );
  await balancer.waitForLine(/Started HAProxy/);
  console.log("\n| measure | samples | result | floor |");
  console.log("|---|---|---|---|");

  // A certificate replaced in the directory, as certbot or an operator does.
  const ca = await createCa(work);
  const file = `${certs}/swap.example.com.pem`;
  await Deno.writeTextFile(file, await ca.issue(["swap.example.com"]));
  const swaps: number[] = [];
  const before = await reloads();
  for (let i = 0; i < SAMPLES; i++) {
    const pem = await ca.issue(["swap.example.com"]);
    const start = performance.now();
    await Deno.writeTextFile(`${certs}/.swap.tmp`, pem);
    await Deno.rename(`${certs}/.swap.tmp`, file);
    const served = await until(
      "replaced certificate",
      async () =>
        (await servedCert(https, "swap.example.com")).fingerprint ===
          fingerprintOf(pem),
    );
    swaps.push(served - start);
  }
  row(
    "certificate replaced in the directory to served, p50 / p95",
    SAMPLES,
    `${ms(percentile(swaps, 0.5))} / ${ms(percentile(swaps, 0.95))} (${
      (await reloads()) - before
    } reloads)`,
    "-",
  );

  // New containers labelled tls: a certificate from Pebble each.
  const toHttps: number[] = [];
  const runs: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const host = `bench${i}.example.com`;
    const start = performance.now();
    await runContainer(`bench-tls-${i}`, {
      network: net.name,
      labels: { glue_http_80_host: host, glue_http_80_tls: "1" },
    });
    const returned = performance.now();
    runs.push(returned - start);
    const served = await until(`HTTPS for ${host}`, async () => {
      const r = await httpsGet(https, host, "/whoami", [root]);
      return r.status === 200;
    });
    toHttps.push(served - returned);
  }
  const issued = balancer.lines.map((line) =>
    /ACME: issued a certificate for bench[0-9]+\.example\.com, .* in ([0-9]+) ms/
      .exec(line)?.[1]
  ).filter((v) => v !== undefined).map(Number);
  row(
    "new tls container: docker run returned to HTTPS with a Pebble certificate, p50 / p95",
    SAMPLES,
    `${ms(percentile(toHttps, 0.5))} / ${ms(percentile(toHttps, 0.95))}`,
    `docker run -d ${ms(percentile(runs, 0.5))}`,
  );
  row(
    "ACME issuance as logged (order, HTTP-01 through HAProxy, certificate), p50 / p95",
    issued.length,
    `${ms(percentile(issued, 0.5))} / ${ms(percentile(issued, 0.95))}`,
    "-",
  );

  // The first container's renewal, under HTTPS load.
  const host = "bench0.example.com";
  const first = (await servedCert(https, host)).fingerprint;
  const reloadsBefore = await reloads();
  let ok = 0;
  let failed = 0;
  let stop = false;
  const load = async () => {
    while (!stop) {
      try {
        const r = await httpsGet(https, host, "/whoami", [root]);
        if (r.status === 200) ok++;
        else failed++;
      } catch {
        failed++;
      }
    }
  };
  const workers = [load(), load()];
  const renewal = new RegExp(
    `ACME: requesting a certificate for ${
      host.replaceAll(".", "\\.")
    } by http-01 \\(renewal`,
  );
  await until(
    "renewal request",
    () => Promise.resolve(balancer.lines.some((l) => renewal.test(l))),
    VALIDITY_S * 1000,
  );
  const asked = performance.now();
  const swapped = await until(
    "renewed certificate served",
    async () => (await servedCert(https, host)).fingerprint !== first,
  );
  await new Promise((r) => setTimeout(r, 500));
  stop = true;
  await Promise.all(workers);
  row(
    "renewal under HTTPS load: request to new certificate served",
    1,
    `${ms(swapped - asked)}; ${ok} requests, ${failed} failed, ${
      (await reloads()) - reloadsBefore
    } reloads`,
    "-",
  );
} finally {
  await balancer.stop();
  await pebble.stop();
  await removeContainers();
  await net.remove();
  await dir.remove();
  await Deno.remove(work, { recursive: true });
}
