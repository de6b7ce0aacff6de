/**
 * What forward auth costs: wrk through docker-balancer's managed HAProxy to
 * two containers alike, one route without forward auth and one with it, in
 * turns, in one run. The sign-on service is busybox
 * httpd answering 200 from a file, so what is measured is HAProxy asking,
 * not the service thinking: a real one (Authelia checking a session) adds
 * its own time to every request. Prints the machine and Markdown rows for
 * docs/BENCHMARKS.md: requests per second and latency p50 / p99, medians of
 * the rounds.
 *
 * Usage: `deno task bench:auth` (about 2 minutes), or `--quick` for the
 * short version the tests run so the benchmark cannot rot.
 *
 * @module
 */

import { runContainer, waitForStatus } from "../tests/e2e/_harness.ts";
import { percentile, printRun, row, startBenchBalancer } from "./_common.ts";

const quick = Deno.args.includes("--quick");
const ROUNDS = quick ? 1 : 5;
const SECONDS = quick ? 2 : 10;
const CONNECTIONS = 4;

/** wrk's requests per second and latency percentiles in ms. */
async function wrk(
  port: number,
  host: string,
): Promise<{ rps: number; p50: number; p99: number; errors: number }> {
  const out = await new Deno.Command("wrk", {
    args: [
      "-t1",
      `-c${CONNECTIONS}`,
      `-d${SECONDS}s`,
      "--latency",
      "-H",
      `Host: ${host}`,
      `http://127.0.0.1:${port}/index.html`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) throw new Error(`wrk failed: ${text}`);
  const latency = (p: string) => {
    const match = new RegExp(`^\\s+${p}%\\s+([0-9.]+)(us|ms|s)\\s*$`, "m").exec(
      text,
    );
    if (match === null) throw new Error(`no ${p}% latency in:\n${text}`);
    const scale = { us: 0.001, ms: 1, s: 1000 }[match[2] as "us" | "ms" | "s"];
    return Number(match[1]) * scale;
  };
  const rps = Number(/^Requests\/sec:\s+([0-9.]+)$/m.exec(text)?.[1] ?? NaN);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? 0);
  const socket =
    /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/
      .exec(text);
  const errors = non2xx +
    (socket === null ? 0 : socket.slice(1).reduce((a, b) => a + Number(b), 0));
  return { rps, p50: latency("50"), p99: latency("99"), errors };
}

const { net, port, balancer, stop } = await startBenchBalancer(
  "docker-glue-bench-auth",
);
try {
  await printRun("bench:auth", quick);
  await balancer.waitForLine(/Started HAProxy/);
  const serve = [
    "sh",
    "-c",
    'mkdir -p /www && echo ok > /www/verify && echo "$NAME" > /www/index.html && exec httpd -f -p 80 -h /www',
  ];
  await runContainer("bench-auth-sso", { network: net.name, command: serve });
  // Two containers alike, one behind forward auth.
  await runContainer("bench-auth-plain", {
    network: net.name,
    command: serve,
    labels: { glue_http_80_host: "plain.example.com" },
  });
  await runContainer("bench-auth-app", {
    network: net.name,
    command: serve,
    labels: {
      glue_http_80_host: "auth.example.com",
      glue_http_80_forward_auth: "container:bench-auth-sso:80/verify",
    },
  });
  await waitForStatus(port, "plain.example.com", "/index.html", 200);
  await waitForStatus(port, "auth.example.com", "/index.html", 200);
  const plain: Awaited<ReturnType<typeof wrk>>[] = [];
  const auth: Awaited<ReturnType<typeof wrk>>[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    plain.push(await wrk(port, "plain.example.com"));
    auth.push(await wrk(port, "auth.example.com"));
  }
  console.log(
    `\n${ROUNDS} rounds of ${SECONDS} s each, ${CONNECTIONS} connections (wrk -t1), alternating\n`,
  );
  console.log("| route | requests/s | latency p50 | latency p99 | errors |");
  console.log("|---|---|---|---|---|");
  const median = (
    runs: Awaited<ReturnType<typeof wrk>>[],
    key: "rps" | "p50" | "p99",
  ) => percentile(runs.map((run) => run[key]), 0.5);
  for (
    const [name, runs] of [["without forward auth", plain], [
      "with forward auth",
      auth,
    ]] as const
  ) {
    row(
      name,
      median(runs, "rps").toFixed(0),
      `${median(runs, "p50").toFixed(2)} ms`,
      `${median(runs, "p99").toFixed(2)} ms`,
      runs.reduce((sum, run) => sum + run.errors, 0),
    );
  }
  row(
    "forward auth's cost",
    `${(median(auth, "rps") / median(plain, "rps")).toFixed(2)}x`,
    `+${(median(auth, "p50") - median(plain, "p50")).toFixed(2)} ms`,
    `+${(median(auth, "p99") - median(plain, "p99")).toFixed(2)} ms`,
    "-",
  );
} finally {
  await stop();
}
