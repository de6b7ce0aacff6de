/**
 * A managed HAProxy: started by docker-balancer in master-worker mode on the
 * configuration it writes, restarted with back-off when it dies, reloaded
 * through its master and stopped when docker-balancer stops.
 *
 * @module
 */

import { errorMessage } from "../../util/error_message.ts";
import { dirname } from "../../util/files.ts";
import { backoff, sleep } from "../../util/sleep.ts";
import { RuntimeError, sendCommand } from "./runtime.ts";
import { readHAProxyLine } from "./haproxy_log.ts";
import { type AccessLogSink, fileSink, stdoutSink } from "./access_log_sink.ts";
import type { AccessLogTarget } from "../access_log.ts";

/** How a managed HAProxy is run. */
export interface ManagedOptions {
  /** HAProxy executable. */
  readonly haproxyBin: string;
  /** Configuration file it runs from. */
  readonly configFile: string;
  /** Master CLI socket (`-S`), through which it is watched. */
  readonly masterSocket: string;
  /** Extra arguments (the rc file's EXTRAOPTS). */
  readonly extraArgs: readonly string[];
  /**
   * Socket files HAProxy creates (the admin socket); HAProxy leaves them
   * behind, so they are removed with the master socket once it has stopped.
   */
  readonly sockets?: readonly string[];
  /**
   * Where the access log HAProxy writes on its standard output goes
   * (`--access-log` stdout or a file); without, that output is HAProxy's
   * messages like the rest.
   */
  readonly accessLog?: Exclude<AccessLogTarget, { kind: "syslog" }>;
}

/** HAProxy could not be started, or did not take a reload. */
export class HAProxyProcessError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "HAProxyProcessError";
  }
}

/** What `show proc` on the master CLI says. */
export interface ProcList {
  /** Master pid. */
  readonly master: number;
  /** Reloads the master has done. */
  readonly reloads: number;
  /** Reloads that failed. */
  readonly failed: number;
  /** Workers: pid and how many reloads ago each was started (0 = current). */
  readonly workers: readonly { pid: number; reloads: number }[];
}

/** Parses the master CLI's `show proc` answer. */
export function parseShowProc(text: string): ProcList | null {
  let master: ProcList | null = null;
  const workers: { pid: number; reloads: number }[] = [];
  for (const line of text.split("\n")) {
    const m = /^([0-9]+)\s+master\s+([0-9]+)(?:\s+\[failed:\s*([0-9]+)\])?/
      .exec(
        line.trim(),
      );
    if (m !== null) {
      master = {
        master: Number(m[1]),
        reloads: Number(m[2]),
        failed: Number(m[3] ?? 0),
        workers,
      };
      continue;
    }
    const w = /^([0-9]+)\s+worker\s+([0-9]+)/.exec(line.trim());
    if (w !== null) workers.push({ pid: Number(w[1]), reloads: Number(w[2]) });
  }
  return master;
}

const START_TIMEOUT_MS = 10_000;
const RELOAD_TIMEOUT_MS = 10_000;
const SOFT_STOP_MS = 5_000;
const RESTART_BASE_MS = 500;
const RESTART_MAX_MS = 30_000;
/** A run this long resets the restart back-off. */
const STABLE_MS = 60_000;

/** What befell the managed HAProxy, for its owner to tell. */
export type ProcessEvent =
  | { readonly kind: "started"; readonly pid: number; readonly file: string }
  | { readonly kind: "stopped"; readonly pid: number; readonly how: string }
  /** An HAProxy an earlier run left running, stopped. */
  | { readonly kind: "leftover"; readonly pid: number; readonly socket: string }
  /** A line HAProxy wrote, at the level it gave it. */
  | {
    readonly kind: "output";
    readonly level: "error" | "warning" | "info" | "debug";
    readonly line: string;
  }
  | {
    readonly kind: "exited";
    readonly pid: number;
    readonly code: number;
    readonly wait: number;
  }
  | { readonly kind: "restart-failed"; readonly error: string }
  /** The access log could not be written; `lost` lines with it. */
  | {
    readonly kind: "access-log-failed";
    readonly target: string;
    readonly error: string;
    readonly lost: number;
  };

/** What the engine asks of an HAProxy it runs itself. */
export interface HAProxyProcess {
  /** Whether it runs now. */
  readonly running: boolean;
  /** The configuration it was started on. */
  readonly loadedText: string | null;
  /** Called after it was started again because it had died. */
  onRestart: (() => void) | undefined;
  /** Told what befell it. */
  onEvent?: ((event: ProcessEvent) => void) | undefined;
  /** Starts it, or reloads it on the file. */
  reload(): Promise<void>;
  /** Opens the access log file again (log rotation moved it away). */
  reopenAccessLog?(): Promise<void>;
  /** Stops it. */
  stop(): Promise<void>;
}

/** A supervised HAProxy master process. */
export class ManagedHAProxy implements HAProxyProcess {
  readonly #options: ManagedOptions;
  #child: Deno.ChildProcess | null = null;
  #recent: string[] = [];
  #stopping = false;
  #supervisor: Promise<void> | null = null;
  #wake = new AbortController();
  /** Times HAProxy had to be started again after it died. */
  restarts = 0;
  /** The configuration the running master was started on. */
  loadedText: string | null = null;
  /** Called after HAProxy was started again because it had died. */
  onRestart: (() => void) | undefined;
  /** Told what befell it: this module does not log. */
  onEvent: ((event: ProcessEvent) => void) | undefined;

  readonly #accessLog: AccessLogSink | undefined;

  /** Creates the supervisor; nothing runs until {@link ManagedHAProxy.start}. */
  constructor(options: ManagedOptions) {
    this.#options = options;
    const target = options.accessLog;
    if (target !== undefined) {
      const name = target.kind === "file" ? target.path : "standard output";
      const failed = (error: string, lost: number) =>
        this.onEvent?.({
          kind: "access-log-failed",
          target: name,
          error,
          lost,
        });
      this.#accessLog = target.kind === "file"
        ? fileSink(target.path, failed)
        : stdoutSink(failed);
    }
  }

  /** Opens the access log file again (log rotation moved it away). */
  reopenAccessLog(): Promise<void> {
    return this.#accessLog?.reopen() ?? Promise.resolve();
  }

  /** Whether a master runs now. */
  get running(): boolean {
    return this.#child !== null;
  }

  /** The master's pid, while one runs. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /**
   * Starts HAProxy on the configuration file and waits until its first
   * worker runs; from then on it is restarted whenever it dies.
   *
   * @throws {HAProxyProcessError} with HAProxy's own error lines when it
   * does not come up.
   */
  async start(): Promise<void> {
    if (this.#supervisor !== null) return;
    await this.#stopLeftover();
    await this.#spawn();
    this.#supervisor = this.#supervise();
  }

  /**
   * Reloads HAProxy through its master (SIGUSR2) and waits until the new
   * worker runs.
   *
   * @throws {HAProxyProcessError} when the master reports the reload failed
   * or no new worker appears in time.
   */
  async reload(): Promise<void> {
    const child = this.#child;
    if (child === null) {
      if (this.#supervisor === null) return await this.start();
      throw new HAProxyProcessError(
        "HAProxy is not running (it died and is being started again)",
      );
    }
    const before = await this.#showProc();
    child.kill("SIGUSR2");
    const deadline = Date.now() + RELOAD_TIMEOUT_MS;
    while (Date.now() < deadline) {
      await sleep(5);
      let now: ProcList | null;
      try {
        now = await this.#showProc();
      } catch {
        continue; // the master is re-executing itself
      }
      if (now === null || before === null) continue;
      if (now.failed > before.failed) {
        throw new HAProxyProcessError(
          `HAProxy did not take the reload: ${this.#recent.join(" | ")}`,
        );
      }
      if (
        now.reloads > before.reloads &&
        now.workers.some((w) => w.reloads === 0)
      ) return;
    }
    throw new HAProxyProcessError(
      `HAProxy did not finish reloading within ${RELOAD_TIMEOUT_MS / 1000} s`,
    );
  }

  /** The master's reload count and workers, or null when it does not answer. */
  async procList(): Promise<ProcList | null> {
    try {
      return await this.#showProc();
    } catch (error) {
      if (error instanceof RuntimeError) return null;
      throw error;
    }
  }

  /**
   * Stops HAProxy: a soft stop first so requests in flight finish, then
   * SIGTERM, then SIGKILL.
   */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#wake.abort();
    const child = this.#child;
    if (child !== null) {
      const signals: [Deno.Signal, number][] = [
        ["SIGUSR1", SOFT_STOP_MS],
        ["SIGTERM", 2000],
        ["SIGKILL", 2000],
      ];
      for (const [signal, wait] of signals) {
        try {
          child.kill(signal);
        } catch {
          break; // already gone
        }
        const done = await Promise.race([
          child.status.then(() => true),
          sleep(wait).then(() => false),
        ]);
        if (done) break;
      }
    }
    await this.#supervisor;
    if (child !== null) {
      const status = await child.status;
      this.onEvent?.({
        kind: "stopped",
        pid: child.pid,
        how: status.success
          ? "requests in flight finished"
          : `exit status ${status.code}${
            status.signal ? ` (${status.signal})` : ""
          }`,
      });
    }
    await this.#accessLog?.close();
    // Another master answering there owns the sockets now (one started
    // after ours stopped): they are not ours to remove.
    if (child !== null && await this.procList() !== null) return;
    for (
      const path of [this.#options.masterSocket, ...this.#options.sockets ?? []]
    ) {
      await Deno.remove(path).catch(() => {});
    }
  }

  async #showProc(): Promise<ProcList | null> {
    return parseShowProc(
      await sendCommand(this.#options.masterSocket, "show proc", 1000),
    );
  }

  /**
   * An HAProxy left behind by an earlier run that was killed outright holds
   * the ports; its master socket tells its pid.
   */
  async #stopLeftover(): Promise<void> {
    let list: ProcList | null;
    try {
      list = await this.#showProc();
    } catch (error) {
      if (error instanceof RuntimeError) return;
      throw error;
    }
    if (list === null) return;
    this.onEvent?.({
      kind: "leftover",
      pid: list.master,
      socket: this.#options.masterSocket,
    });
    try {
      Deno.kill(list.master, "SIGTERM");
    } catch {
      return;
    }
    for (let i = 0; i < 100; i++) {
      await sleep(50);
      try {
        await this.#showProc();
      } catch {
        return;
      }
    }
  }

  async #spawn(): Promise<void> {
    const { haproxyBin, configFile, masterSocket, extraArgs } = this.#options;
    await Deno.mkdir(
      dirname(masterSocket),
      {
        recursive: true,
      },
    );
    this.#recent = [];
    this.loadedText = await Deno.readTextFile(configFile);
    const child = new Deno.Command(haproxyBin, {
      args: ["-W", "-db", "-f", configFile, "-S", masterSocket, ...extraArgs],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      // A process group of its own: Ctrl-C in the terminal reaches only
      // docker-balancer, which stops HAProxy softly (requests in flight
      // finish) instead of HAProxy dying of the interrupt as well.
      detached: true,
    }).spawn();
    this.#child = child;
    const accessLog = this.#accessLog;
    void this.#pipe(
      child.stdout,
      accessLog === undefined
        ? (line) => this.#output(line)
        : (line) => this.#access(accessLog, line),
    );
    void this.#pipe(child.stderr, (line) => this.#output(line));
    const exited = child.status.then(() => true);
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      const gone = await Promise.race([exited, sleep(20).then(() => false)]);
      if (gone) {
        this.#child = null;
        const status = await child.status;
        await sleep(20); // let the last output lines arrive
        throw new HAProxyProcessError(
          `HAProxy exited with status ${status.code} on start: ${
            this.#recent.filter((l) => !l.includes("[NOTICE]")).join(" | ") ||
            "no output"
          }`,
        );
      }
      const list = await this.procList();
      if (list !== null && list.workers.length > 0) {
        this.onEvent?.({ kind: "started", pid: child.pid, file: configFile });
        return;
      }
    }
    child.kill("SIGKILL");
    await child.status;
    this.#child = null;
    throw new HAProxyProcessError(
      `HAProxy did not start within ${START_TIMEOUT_MS / 1000} s`,
    );
  }

  async #pipe(
    stream: ReadableStream<Uint8Array>,
    take: (line: string) => void,
  ): Promise<void> {
    let rest = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      rest += chunk;
      const lines = rest.split("\n");
      rest = lines.pop() ?? "";
      for (const line of lines) take(line);
    }
    if (rest !== "") take(rest);
  }

  // The access log's lines are JSON objects; anything else HAProxy writes
  // there is one of its own messages.
  #access(sink: AccessLogSink, line: string): void {
    if (line.startsWith("{")) sink.write(line);
    else if (line.trim() !== "") this.#output(line);
  }

  #output(raw: string): void {
    const read = readHAProxyLine(raw, this.#stopping);
    if (read === null) return;
    const { line, level } = read;
    this.#recent = [...this.#recent.slice(-9), line];
    this.onEvent?.({ kind: "output", level, line });
  }

  async #supervise(): Promise<void> {
    let attempt = 0;
    while (!this.#stopping) {
      const child = this.#child;
      if (child === null) break;
      const started = Date.now();
      const status = await child.status;
      this.#child = null;
      if (this.#stopping) break;
      if (Date.now() - started > STABLE_MS) attempt = 0;
      // Restart until it runs again or we stop.
      while (!this.#stopping) {
        const wait = backoff(attempt++, RESTART_BASE_MS, RESTART_MAX_MS);
        this.onEvent?.({
          kind: "exited",
          pid: child.pid,
          code: status.code,
          wait,
        });
        await sleep(wait, this.#wake.signal);
        if (this.#stopping) break;
        try {
          await this.#spawn();
          this.restarts++;
          this.onRestart?.();
          break;
        } catch (error) {
          this.onEvent?.({
            kind: "restart-failed",
            error: errorMessage(error),
          });
        }
      }
    }
  }
}
