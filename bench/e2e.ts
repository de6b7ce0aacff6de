/**
 * End-to-end benchmark: a real Docker engine, docker-balancer from source
 * with its compiled permissions, and the HAProxy it manages (the main
 * command's mode). Prints the machine, HAProxy's version and, as Markdown
 * rows for docs/BENCHMARKS.md:
 *
 * - start-to-route after `docker run -d` returns, p50/p95, for a container
 *   joining a host that exists and for a new host, with 50 and 400 other
 *   containers running; `docker run -d`'s own time is the floor;
 * - 50 and 100 containers started together: reloads, and the time from the
 *   last `docker run` returning to the last route answering;
 * - reloads during a rolling replacement of 16 containers;
 * - resident memory of docker-balancer with each number of containers,
 *   and after the storms;
 * - the agent against the original docker-glue: a script on each event
 *   (bench/agent.ts; the original only with ORIGINAL_GLUE_DIR).
 *
 * Usage: `deno task bench:e2e [--samples N]` (about 10 minutes with the
 * default 15 samples per start-to-route row; 40 or more put the p95 below
 * the maximum), or `--quick` for the
 * short version CI runs so the benchmark cannot rot.
 *
 * @module
 */

import { docker, runContainer } from "../tests/e2e/_harness.ts";
import {
  answeredAt,
  ms,
  percentile,
  printRun,
  reloads,
  row,
  startBenchBalancer,
} from "./_common.ts";
import { benchAgents } from "./agent.ts";

const quick = Deno.args.includes("--quick");
const SIZES = quick ? [5] : [50, 400];
const samplesAt = Deno.args.indexOf("--samples");
const SAMPLES = quick
  ? 3
  : samplesAt < 0
  ? 15
  : Number(Deno.args[samplesAt + 1]);
if (!Number.isInteger(SAMPLES) || SAMPLES < 1) {
  throw new TypeError("--samples takes a whole number of samples, 1 or more");
}
const STORMS = quick ? [5] : [50, 100];
const ROLLING = quick ? 4 : 16;

/** A quiet moment before a measure; skipped by the short version, which times nothing it asserts. */
function settle(ms: number): Promise<void> {
  return quick ? Promise.resolve() : new Promise((r) => setTimeout(r, ms));
}

/** When `name` first answers on `host` through HAProxy. */
function routedAt(port: number, host: string, name: string): Promise<number> {
  return answeredAt(port, host, "/whoami", `${name} /`);
}

/** Runs a container and returns when `docker run -d` returned and how long it took. */
async function timedRun(
  name: string,
  network: string,
  labels: Record<string, string>,
): Promise<{ returned: number; took: number }> {
  const start = performance.now();
  await runContainer(name, { network, labels });
  const returned = performance.now();
  return { returned, took: returned - start };
}

/** Starts containers, at most `parallel` `docker run`s at a time. */
async function startMany(
  names: readonly string[],
  network: string,
  labels: (name: string) => Record<string, string>,
  parallel: number,
): Promise<number> {
  let next = 0;
  let last = 0;
  const worker = async () => {
    while (next < names.length) {
      const name = names[next++]!;
      await runContainer(name, { network, labels: labels(name) });
      last = Math.max(last, performance.now());
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return last;
}

const { net, port, balancer, stop } = await startBenchBalancer(
  "docker-glue-bench",
);
try {
  await printRun("bench:e2e", quick);
  await balancer.waitForLine(/Started HAProxy/);
  console.log("\n| measure | containers running | result | floor |");
  console.log("|---|---|---|---|");

  // A host with one server, for containers that join it.
  await runContainer("bench-join-base", {
    network: net.name,
    labels: { glue_http_80_host: "join.example.com" },
  });
  await routedAt(port, "join.example.com", "bench-join-base");

  let background = 0;
  for (const size of SIZES) {
    const names = Array.from(
      { length: size - background },
      (_, i) => `bench-bg-${background + i}`,
    );
    await startMany(names, net.name, (name) => ({
      glue_http_80_host: `${name}.example.com`,
    }), 4);
    background = size;
    await routedAt(
      port,
      `bench-bg-${size - 1}.example.com`,
      `bench-bg-${size - 1}`,
    );

    for (const kind of ["join", "new"] as const) {
      const latencies: number[] = [];
      const floors: number[] = [];
      const before = await reloads();
      for (let i = 0; i < SAMPLES; i++) {
        const name = `bench-${kind}-${size}-${i}`;
        const host = kind === "join"
          ? "join.example.com"
          : `${name}.example.com`;
        // A quiet moment first: this measures a lone start, not a burst.
        await settle(700);
        const run = await timedRun(name, net.name, { glue_http_80_host: host });
        latencies.push((await routedAt(port, host, name)) - run.returned);
        floors.push(run.took);
        await docker("rm", "-f", name);
      }
      row(
        kind === "join"
          ? "start-to-route, joining an existing host, p50 / p95"
          : "start-to-route, new host, p50 / p95",
        size,
        `${ms(percentile(latencies, 0.5))} / ${
          ms(percentile(latencies, 0.95))
        } (${
          (await reloads()) - before
        } reloads for ${SAMPLES} starts and ${SAMPLES} removals)`,
        `docker run -d ${ms(percentile(floors, 0.5))}`,
      );
    }
    row(
      "docker-balancer resident memory",
      size + 1,
      `${Math.round((await balancer.rssKiB()) / 1024)} MB`,
      "-",
    );
  }

  for (const count of STORMS) {
    await settle(1000);
    const before = await reloads();
    const names = Array.from(
      { length: count },
      (_, i) => `bench-storm-${count}-${i}`,
    );
    const last = await startMany(names, net.name, (name) => ({
      glue_http_80_host: `${name}.example.com`,
    }), 8);
    let done = 0;
    for (const name of names) {
      done = Math.max(done, await routedAt(port, `${name}.example.com`, name));
    }
    row(
      `${count} started together: last start to last route`,
      background + 1,
      `${ms(done - last)}, ${(await reloads()) - before} reloads`,
      "-",
    );
    await docker("rm", "-f", ...names);
  }
  row(
    "docker-balancer resident memory, after the storms",
    background + 1,
    `${Math.round((await balancer.rssKiB()) / 1024)} MB`,
    "-",
  );

  {
    await settle(1000);
    const label = { glue_http_80_host: "roll.example.com" };
    const live: string[] = [];
    for (let i = 0; i < 3; i++) {
      const name = `bench-roll-0-${i}`;
      await runContainer(name, { network: net.name, labels: label });
      live.push(name);
    }
    await routedAt(port, "roll.example.com", "bench-roll-0-2");
    const before = await reloads();
    for (let i = 0; i < ROLLING; i++) {
      const slot = i % 3;
      const name = `bench-roll-${i + 1}-${slot}`;
      await runContainer(name, { network: net.name, labels: label });
      await routedAt(port, "roll.example.com", name);
      await docker("stop", "-t", "2", live[slot]!);
      await docker("rm", live[slot]!);
      live[slot] = name;
    }
    row(
      `rolling replacement of ${ROLLING} containers`,
      background + 4,
      `${(await reloads()) - before} reloads`,
      "-",
    );
  }
} finally {
  await stop();
}

// The agent alone, after the balancer has stopped: nothing else runs.
await benchAgents(quick);
