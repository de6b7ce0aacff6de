/**
 * docker-balancer and docker-glue run from source with their compiled
 * permissions, their standard error collected line by line.
 *
 * @module
 */

import {
  BALANCER_PERMISSIONS,
  GLUE_PERMISSIONS,
  RUNTIME_ENV,
  RUNTIME_FLAGS,
} from "../../../lib/permissions.ts";
import type { RouteReport } from "../../../lib/report/report.ts";
import { ROOT, sh, waitFor } from "./base.ts";

/** A process whose standard error is collected line by line. */
export class Process {
  readonly #child: Deno.ChildProcess;
  readonly #lines: string[] = [];
  readonly #stdout: string[] = [];
  readonly #done: Promise<void>;
  #exited = false;
  /** Exit status once it has exited. */
  readonly status: Promise<Deno.CommandStatus>;

  /**
   * Spawns the command; with `detached`, in a session of its own, as a
   * terminal runs a command (see {@link Process.interrupt}).
   */
  constructor(
    program: string,
    args: string[],
    env?: Record<string, string>,
    detached = false,
  ) {
    this.#child = new Deno.Command(program, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      cwd: ROOT,
      detached,
      ...(env ? { env } : {}),
    }).spawn();
    const collect = async (
      stream: ReadableStream<Uint8Array>,
      into: string[],
    ) => {
      let rest = "";
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        rest += chunk;
        const parts = rest.split("\n");
        rest = parts.pop() ?? "";
        into.push(...parts);
      }
      if (rest !== "") into.push(rest);
    };
    this.#done = Promise.all([
      collect(this.#child.stderr, this.#lines),
      collect(this.#child.stdout, this.#stdout),
    ]).then(() => {});
    this.status = this.#child.status;
    this.status.then(() => this.#exited = true);
  }

  /** Whether it has exited. */
  get exited(): boolean {
    return this.#exited;
  }

  /** Process id. */
  get pid(): number {
    return this.#child.pid;
  }

  /** Resident memory in KiB, as ps reports it. */
  async rssKiB(): Promise<number> {
    return Number(await sh("ps", "-o", "rss=", "-p", String(this.#child.pid)));
  }

  /** Lines written to standard error so far. */
  get lines(): readonly string[] {
    return this.#lines;
  }

  /** Lines written to standard output so far. */
  get stdout(): readonly string[] {
    return this.#stdout;
  }

  /** How many stderr lines match `pattern`. */
  count(pattern: RegExp): number {
    return this.#lines.filter((line) => pattern.test(line)).length;
  }

  /** Waits until a stderr line matches `pattern`; returns it. */
  waitForLine(pattern: RegExp, ms = 20000): Promise<string> {
    return waitFor(
      `a log line matching ${pattern}`,
      () => Promise.resolve(this.#lines.find((l) => pattern.test(l))),
      ms,
    );
  }

  /**
   * Waits until at least `count` stderr lines match `pattern` (for "one
   * more than before": the count taken before the action, plus one).
   */
  async waitForCount(
    pattern: RegExp,
    count: number,
    ms = 20000,
  ): Promise<void> {
    await waitFor(
      `${count} log lines matching ${pattern}`,
      () => Promise.resolve(this.count(pattern) >= count ? true : undefined),
      ms,
    );
  }

  /** Sends a signal. */
  kill(signal: Deno.Signal = "SIGTERM"): void {
    this.#child.kill(signal);
  }

  /**
   * Sends `signal` to the whole process group of a detached process, as
   * Ctrl-C sends SIGINT to every process of the terminal's command.
   */
  async interrupt(signal: Deno.Signal = "SIGINT"): Promise<void> {
    await sh("kill", `-${signal.replace(/^SIG/, "")}`, "--", `-${this.pid}`);
  }

  /** Stops it with SIGTERM and waits for the exit and the output. */
  async stop(): Promise<Deno.CommandStatus> {
    try {
      this.#child.kill("SIGTERM");
    } catch {
      // already gone
    }
    const status = await this.status;
    await this.#done;
    return status;
  }

  /** Waits for the exit and the output. */
  async finished(): Promise<Deno.CommandStatus> {
    const status = await this.status;
    await this.#done;
    return status;
  }
}

/** Starts an entry point from source with the permissions its binary is compiled with. */
function startEntry(
  entry: string,
  permissions: readonly string[],
  args: string[],
  extraPermissions: string[],
): Process {
  return new Process(Deno.execPath(), [
    "run",
    ...RUNTIME_FLAGS,
    ...permissions,
    ...extraPermissions,
    entry,
    ...args,
  ], { ...RUNTIME_ENV });
}

async function runEntry(
  process: Process,
): Promise<{ code: number; stderr: string; stdout: string }> {
  const status = await process.finished();
  return {
    code: status.code,
    stderr: process.lines.join("\n"),
    stdout: process.stdout.join("\n"),
  };
}

/** Starts docker-balancer from source with its compiled permissions. */
export function startBalancer(
  args: string[],
  extraPermissions: string[] = [],
): Process {
  return startEntry(
    "balancer.ts",
    BALANCER_PERMISSIONS,
    args,
    extraPermissions,
  );
}

/** Runs docker-balancer to completion. */
export function runBalancer(
  args: string[],
  extraPermissions: string[] = [],
): Promise<{ code: number; stderr: string; stdout: string }> {
  return runEntry(startBalancer(args, extraPermissions));
}

/**
 * `docker-balancer routes --json` with the daemon's `args`: the report as
 * the program writes it. Throws, with its stderr, when it exits non-zero.
 */
export async function readRoutes(args: string[]): Promise<RouteReport> {
  const out = await runBalancer(["routes", "--json", ...args]);
  if (out.code !== 0) {
    throw new Error(`routes --json exited ${out.code}: ${out.stderr}`);
  }
  return JSON.parse(out.stdout) as RouteReport;
}

/** Starts docker-glue from source with its compiled permissions. */
export function startGlue(
  args: string[],
  extraPermissions: string[] = [],
): Process {
  return startEntry("main.ts", GLUE_PERMISSIONS, args, extraPermissions);
}

/** Runs docker-glue to completion. */
export function runGlue(
  args: string[],
  extraPermissions: string[] = [],
): Promise<{ code: number; stderr: string; stdout: string }> {
  return runEntry(startGlue(args, extraPermissions));
}
