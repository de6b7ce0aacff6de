/**
 * What the end-to-end benchmarks share: the balancer they measure,
 * percentiles, HAProxy's reload count, the machine's description and
 * Markdown rows.
 *
 * @module
 */

import {
  createNetwork,
  docker,
  ensureImage,
  freePort,
  haproxyDir,
  httpGet,
  masterProc,
  removeContainers,
  sh,
  startBalancer,
} from "../tests/e2e/_harness.ts";

/**
 * docker-balancer as the main command runs it (`-w --haproxy managed`),
 * from source with its compiled flags, on a fresh network and HAProxy
 * directory, with no test container left from before; `stop` stops it and
 * removes what it and the benchmark made.
 */
export async function startBenchBalancer(network: string) {
  await ensureImage();
  await removeContainers();
  const net = await createNetwork(network);
  const dir = await haproxyDir();
  const port = freePort();
  const balancer = startBalancer([
    "-w",
    "--haproxy",
    "managed",
    ...dir.listenArgs(port),
  ]);
  const stop = async () => {
    await balancer.stop();
    await removeContainers();
    await net.remove();
    await dir.remove();
  };
  return { net, port, balancer, stop };
}

/** The value at fraction `p` (0-1) of the sorted values. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ??
    NaN;
}

/** Milliseconds, rounded, with the unit. */
export const ms = (value: number): string => `${value.toFixed(0)} ms`;

/** HAProxy's reload count from its master, or NaN when it does not answer. */
export async function reloads(): Promise<number> {
  // The master does not answer while it re-executes itself for a reload.
  for (let i = 0; i < 100; i++) {
    const proc = await masterProc();
    if (proc !== null) return proc.reloads;
    await new Promise((r) => setTimeout(r, 20));
  }
  return NaN;
}

/** The machine, HAProxy, Docker and Deno, in one line for the record. */
async function machine(): Promise<string> {
  // Deno reads /proc only with every permission; lscpu and free read it for us.
  const cpu = /Model name:\s*(.*)/.exec(await sh("lscpu"))?.[1] ??
    "unknown CPU";
  const mem = /Mem:\s+([0-9.]+\S*)/.exec(await sh("free", "-h"))?.[1] ?? "?";
  const haproxy = (await sh("haproxy", "-v")).split("\n")[0];
  const engine = await docker("version", "--format", "{{.Server.Version}}");
  return `${navigator.hardwareConcurrency} cores (${cpu}), ${mem} memory; ${haproxy}; Docker ${engine}; Deno ${Deno.version.deno}`;
}

/**
 * Prints the machine and the command a run's figures come from: `task` as
 * `deno task` names it, `--quick` when given, and `note` (default: when).
 */
export async function printRun(
  task: string,
  quick: boolean,
  note = new Date().toISOString(),
): Promise<void> {
  console.log(`machine: ${await machine()}`);
  console.log(`command: deno task ${task}${quick ? " --quick" : ""}; ${note}`);
}

/** Prints one Markdown table row. */
export function row(...cells: (string | number)[]): void {
  console.log(`| ${cells.join(" | ")} |`);
}

/**
 * When (`performance.now()`) `host` + `path` through HAProxy on `port` first
 * answers 200 with `body`, polled every 2 ms; throws after `limitMs`.
 */
export async function answeredAt(
  port: number,
  host: string,
  path: string,
  body: string,
  limitMs = 30_000,
): Promise<number> {
  const deadline = performance.now() + limitMs;
  while (performance.now() < deadline) {
    const res = await httpGet(port, host, path, 1000).catch(() => null);
    if (res?.status === 200 && res.body === body) return performance.now();
    await new Promise((r) => setTimeout(r, 2));
  }
  throw new Error(
    `${host}${path} did not answer "${body}" within ${limitMs} ms`,
  );
}
