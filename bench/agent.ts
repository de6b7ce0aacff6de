/**
 * The agent against the original Python docker-glue, side by side in one
 * run: each runs a ScriptHandler file (the original's class name, `start,die`)
 * whose script appends the event, the container id and the time to a file.
 * Measured, for each agent in turn and twice over:
 *
 * - `docker run -d` returned -> the script ran for its `start`, p50;
 * - 20 containers started together: the last script after the last
 *   `docker run -d` returned.
 *
 * `docker run -d`'s own time is the floor. The original runs only when
 * ORIGINAL_GLUE_DIR names a checkout of it (Python 3 and the `docker`
 * package; shims given here import `configparser` for its `ConfigParser`,
 * map its `docker.Client` to today's `APIClient` and ask for container
 * events only: it reads `status`, which network events lack today). Run by `deno task bench:e2e`, or alone:
 * `deno run -A bench/agent.ts [--quick]`.
 *
 * @module
 */

import {
  createNetwork,
  docker,
  ensureImage,
  Process,
  runContainer,
  startGlue,
} from "../tests/e2e/_harness.ts";
import { ms, percentile, row } from "./_common.ts";

/** How the original's `docker` import is made to work with today's package and engine. */
const SHIM = `import docker
class Client(docker.APIClient):
    def events(self, *args, **kwargs):
        kwargs.setdefault("filters", {"type": "container"})
        return super().events(*args, **kwargs)
docker.Client = Client
`;

interface Contender {
  readonly name: string;
  /** Starts it with its handler files in `dir`/docker-glue.d. */
  start(dir: string): Process;
  /** A line it prints once it follows events. */
  readonly ready: RegExp;
}

function contenders(): Contender[] {
  const ours: Contender = {
    name: "docker-glue",
    start: (dir) =>
      startGlue([
        "-w",
        "--handler-paths",
        `${dir}/docker-glue.d`,
        "--script-paths",
        dir,
      ]),
    ready: /with 1 handlers/,
  };
  const original = Deno.env.get("ORIGINAL_GLUE_DIR");
  if (original === undefined) return [ours];
  const theirs: Contender = {
    name: "original",
    start: (dir) =>
      new Process("python3", [
        "-c",
        // It finds docker-glue.d next to its program's path.
        `import sys; sys.argv[0] = ${
          JSON.stringify(`${dir}/docker-glue`)
        }; from DockerGlue.agent import main; main()`,
        "-w",
      ], {
        PYTHONPATH: `${dir}/shim:${original}`,
        PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      }),
    ready: /waiting for docker events/,
  };
  return [ours, theirs, ours, theirs];
}

/** Wall-clock milliseconds, to compare with the script's `date +%s%N`. */
const wallMs = () => performance.timeOrigin + performance.now();

/** The time each container's `start` script ran, by container id. */
async function starts(log: string): Promise<Map<string, number>> {
  const text = await Deno.readTextFile(log).catch(() => "");
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    const [event, id, ns] = line.split(" ");
    if (event === "start" && id && ns) out.set(id, Number(ns) / 1e6);
  }
  return out;
}

async function waitForStarts(
  log: string,
  ids: readonly string[],
): Promise<Map<string, number>> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const seen = await starts(log);
    if (ids.every((id) => seen.has(id))) return seen;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`scripts did not run for every container within 30 s`);
}

/** One agent's run: single starts, then a burst. */
async function measure(
  contender: Contender,
  network: string,
  samples: number,
  burst: number,
): Promise<{ single: number[]; floor: number[]; burst: number }> {
  const dir = await Deno.makeTempDir({ prefix: "docker-glue-bench-agent-" });
  const log = `${dir}/events.log`;
  await Deno.mkdir(`${dir}/docker-glue.d`);
  await Deno.mkdir(`${dir}/shim`);
  await Deno.writeTextFile(`${dir}/shim/sitecustomize.py`, SHIM);
  // Python 3 names the module in lower case.
  await Deno.writeTextFile(
    `${dir}/shim/ConfigParser.py`,
    "from configparser import *\n",
  );
  await Deno.writeTextFile(
    `${dir}/append.sh`,
    `#!/bin/sh\necho "$2 $3 $(date +%s%N)" >> ${log}\n`,
    { mode: 0o755 },
  );
  await Deno.chmod(`${dir}/append.sh`, 0o755);
  await Deno.writeTextFile(
    `${dir}/docker-glue.d/bench.ini`,
    `[handler]\nclass=DockerGlue.handlers.exec.ScriptHandler\nevents=start,die\n\n[params]\nscript=${dir}/append.sh\n`,
  );
  const agent = contender.start(dir);
  const names: string[] = [];
  try {
    await agent.waitForLine(contender.ready, 20_000).catch((error) => {
      throw new Error(
        `${contender.name} did not start: ${agent.lines.slice(-5).join("\n")}`,
        { cause: error },
      );
    });
    const single: number[] = [];
    const floor: number[] = [];
    for (let i = 0; i < samples; i++) {
      const name = `bench-agent-${i}`;
      names.push(name);
      const before = performance.now();
      const id = await runContainer(name, { network });
      const returned = wallMs();
      floor.push(performance.now() - before);
      const seen = await waitForStarts(log, [id]);
      single.push(seen.get(id)! - returned);
      await new Promise((r) => setTimeout(r, 100));
    }
    const together = Array.from(
      { length: burst },
      (_, i) => `bench-agent-b${i}`,
    );
    names.push(...together);
    let last = 0;
    const ids = await Promise.all(together.map(async (name) => {
      const id = await runContainer(name, { network });
      last = Math.max(last, wallMs());
      return id;
    }));
    const seen = await waitForStarts(log, ids);
    const lastScript = Math.max(...ids.map((id) => seen.get(id)!));
    return { single, floor, burst: lastScript - last };
  } finally {
    await agent.stop();
    if (names.length > 0) await docker("rm", "-f", ...names).catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
}

/** Prints the rows of the side-by-side measurement. */
export async function benchAgents(quick: boolean): Promise<void> {
  await ensureImage();
  const net = await createNetwork("docker-glue-bench-agent");
  const samples = quick ? 1 : 15;
  const burst = quick ? 3 : 20;
  try {
    console.log("");
    console.log(
      `| agent (ScriptHandler on start,die) | docker run -d returned -> script ran, p50 | ${burst} started together: last script after the last start | docker run -d, p50 (floor) |`,
    );
    console.log("| --- | --- | --- | --- |");
    for (const contender of contenders()) {
      const m = await measure(contender, net.name, samples, burst);
      row(
        contender.name,
        ms(percentile(m.single, 0.5)),
        ms(m.burst),
        ms(percentile(m.floor, 0.5)),
      );
    }
  } finally {
    await net.remove();
  }
}

if (import.meta.main) await benchAgents(Deno.args.includes("--quick"));
