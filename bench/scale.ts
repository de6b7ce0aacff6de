/**
 * `deno task bench:scale`: what one container's change costs the engine
 * at 100, 1,000 and 10,000 running containers. The source is simulated
 * (containers made in memory, four per host) and HAProxy is a recorder of
 * the commands and files it would get (tests/_fixtures/recording_haproxy.ts), so the figures
 * are the engine's own: inventory, routes, plan, decision and the runtime
 * commands, from the change to HAProxy having it. The file that follows
 * (render, check, write) is off that path and timed on its own. Each size runs in a process of its own, so its memory
 * is its own.
 *
 * Usage: deno task bench:scale [--sizes 100,1000,10000] [--rounds N]
 * [--default-v8]. Each size runs with the V8 settings the binaries are built
 * with (lib/permissions.ts), or with V8's defaults under `--default-v8`.
 *
 * @module
 */

import type { ContainerRecord } from "../lib/docker/container.ts";
import { ContainerRecords } from "../lib/docker/records.ts";
import { container, ip, labels } from "../tests/_fixtures/containers.ts";
import { recordedEngine } from "../tests/_fixtures/recording_haproxy.ts";
import { RUNTIME_ENV, RUNTIME_FLAGS } from "../lib/permissions.ts";

/** Kinds of change, as the issue names them. */
const KINDS = ["join", "leave", "new host", "weight"] as const;
type Kind = typeof KINDS[number];

function address(i: number): string {
  return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
}

function web(i: number, host: string, weight = "100"): ContainerRecord {
  return container(
    `c${i}`,
    ip(address(i)),
    labels({ glue_http_80_host: host, glue_http_80_weight: weight }),
  );
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ??
    NaN;
}

/** Runs one size in this process and prints its figures as one JSON line. */
async function measure(size: number, rounds: number): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "docker-glue-scale-" });
  try {
    const config = `${dir}/haproxy.cfg`;
    // As the Docker inventory keeps them: by id, with a journal of changes.
    const containers = new ContainerRecords();
    for (let i = 0; i < size; i++) {
      containers.set(web(i, `app${Math.floor(i / 4)}.example.com`));
    }
    const { engine, haproxy } = recordedEngine(containers, config, {
      httpBind: ["*:80"],
      statsBind: "127.0.0.1:8404",
      tcpBindAddress: "*",
    });
    const t0 = performance.now();
    await engine.update();
    const first = performance.now() - t0;
    let next = size;
    const times: Record<Kind, number[]> = {
      join: [],
      leave: [],
      "new host": [],
      weight: [],
    };
    const change = (kind: Kind) => {
      const i = next++;
      if (kind === "join") {
        containers.set(web(i, `app${i % Math.max(1, size / 4)}.example.com`));
      } else if (kind === "new host") {
        containers.set(web(i, `new${i}.example.com`));
      } else if (kind === "leave") {
        const [first] = containers.list();
        if (first !== undefined) containers.delete(first.id);
      } else {
        const [record] = containers.list();
        if (record !== undefined) {
          const weight = record.labels.glue_http_80_weight === "100"
            ? "50"
            : "100";
          containers.set(
            web(
              Number(record.name.slice(1)),
              record.labels.glue_http_80_host ?? "",
              weight,
            ),
          );
        }
      }
    };
    const reloads = haproxy.reloads;
    const files: number[] = [];
    for (let round = 0; round < rounds; round++) {
      for (const kind of KINDS) {
        change(kind);
        const started = performance.now();
        await engine.update();
        times[kind].push(performance.now() - started);
        // The file follows off the path; timed on its own.
        const filing = performance.now();
        await engine.flush();
        files.push(performance.now() - filing);
      }
    }
    const memory = Deno.memoryUsage();
    console.log(JSON.stringify({
      size,
      first,
      p50: Object.fromEntries(KINDS.map((k) => [k, percentile(times[k], 0.5)])),
      p90: Object.fromEntries(KINDS.map((k) => [k, percentile(times[k], 0.9)])),
      file: percentile(files, 0.5),
      reloads: haproxy.reloads - reloads,
      commands: haproxy.commands.length,
      rssMB: memory.rss / 2 ** 20,
      heapMB: memory.heapUsed / 2 ** 20,
    }));
    await engine.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

interface Figures {
  size: number;
  first: number;
  p50: Record<Kind, number>;
  p90: Record<Kind, number>;
  /** p50 of the file that follows a change: render, check, write. */
  file: number;
  reloads: number;
  commands: number;
  rssMB: number;
  heapMB: number;
}

async function main(args: string[]): Promise<void> {
  const value = (flag: string) => {
    const at = args.indexOf(flag);
    return at < 0 ? undefined : args[at + 1];
  };
  const rounds = Number(value("--rounds") ?? "25");
  const one = value("--size");
  if (one !== undefined) return await measure(Number(one), rounds);
  const sizes = (value("--sizes") ?? "100,1000,10000").split(",").map(Number);
  const rows: Figures[] = [];
  for (const size of sizes) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        // The V8 settings the binaries are built with, unless asked not to.
        ...(args.includes("--default-v8") ? [] : RUNTIME_FLAGS),
        "--allow-read",
        "--allow-write",
        "--allow-env",
        import.meta.filename ?? "",
        "--size",
        String(size),
        "--rounds",
        String(rounds),
      ],
      // And their environment (malloc's settings), likewise.
      ...(args.includes("--default-v8") ? {} : { env: { ...RUNTIME_ENV } }),
      stderr: "inherit",
    }).output();
    if (!out.success) throw new Error(`size ${size} failed`);
    const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
    rows.push(JSON.parse(lines[lines.length - 1] ?? "{}") as Figures);
  }
  const f = (n: number) => n < 10 ? n.toFixed(2) : n.toFixed(0);
  console.log(
    `deno task bench:scale, ${rounds} rounds; ${navigator.hardwareConcurrency} cores, Deno ${Deno.version.deno}; ${
      args.includes("--default-v8")
        ? "the default V8 settings"
        : `the V8 settings of the binaries (${RUNTIME_FLAGS.join(" ")})`
    }`,
  );
  console.log(
    "| containers | first update | join p50 | leave p50 | new host p50 | weight p50 | worst p90 | file after, p50 | reloads | RSS | heap |",
  );
  console.log("|---|---|---|---|---|---|---|---|---|---|---|");
  for (const row of rows) {
    console.log(
      `| ${row.size} | ${f(row.first)} ms | ${f(row.p50.join)} ms | ${
        f(row.p50.leave)
      } ms | ${f(row.p50["new host"])} ms | ${f(row.p50.weight)} ms | ${
        f(Math.max(...Object.values(row.p90)))
      } ms | ${f(row.file)} ms | ${row.reloads} | ${f(row.rssMB)} MB | ${
        f(row.heapMB)
      } MB |`,
    );
  }
  const small = rows.find((row) => row.size === Math.min(...sizes));
  const large = rows.find((row) => row.size === Math.max(...sizes));
  if (small !== undefined && large !== undefined && small !== large) {
    const worst = Math.max(
      ...KINDS.map((k) => large.p50[k] / small.p50[k]),
    );
    console.log(
      `\nAt ${large.size}: worst p50 ${
        f(Math.max(...KINDS.map((k) => large.p50[k])))
      } ms (target <= 5 ms); ${
        worst.toFixed(1)
      }x its cost at ${small.size} (target <= 2x).`,
    );
  }
}

if (import.meta.main) await main(Deno.args);
