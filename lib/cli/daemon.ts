/**
 * What both entry points do once their parts are set up: run once or
 * follow events, own the signals, and turn failures into one line and an exit
 * status.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { Agent } from "../agent/agent.ts";
import { permissionHint } from "../permissions.ts";
import { type ListenAddress, parseListen } from "../metrics/server.ts";
import { type MetricsListener, startMetrics } from "../metrics/start.ts";
import { type PageLogin, readPageLogin } from "../metrics/page_access.ts";
import { errorMessage } from "../util/error_message.ts";
import { cleartextWarning, type EngineAddress } from "../docker/engine_url.ts";

const log = getLogger(["docker-glue", "daemon"]);

/** Exit status for a failure. */
export const EXIT_FAILURE = 1;
/** Exit status for a usage error. */
export const EXIT_USAGE = 2;

/** Prints `program: message` on standard error; returns the exit status for the entry point. */
export function fail(
  program: string,
  message: string,
  status = EXIT_FAILURE,
): number {
  console.error(`${program}: ${message}`);
  return status;
}

/** Says once, at start, that an engine is reached without TLS. */
export function warnCleartext(engine: EngineAddress): void {
  const warning = cleartextWarning(engine);
  if (warning !== null) log.warn("{warning}", { warning });
}

// Errors whose message is written for the operator and needs no stack.
const OPERATOR_ERRORS = new Set([
  "SettingsError",
  "TemplateError",
  "ConfigRejectedError",
  "ReloadError",
  "HandlerFileError",
]);

/** The one line to print for an error that ends the program. */
export function fatalMessage(error: unknown): string {
  if (error instanceof Deno.errors.NotCapable) return permissionHint(error);
  if (error instanceof Error && OPERATOR_ERRORS.has(error.name)) {
    return error.message;
  }
  return `Unexpected error: ${
    error instanceof Error ? error.stack ?? error.message : String(error)
  }`;
}

/**
 * The `--metrics-listen` address, or undefined without the flag.
 *
 * @throws {TypeError} for a bad address, or the flag with `-1`.
 */
export function metricsAddress(
  value: string | undefined,
  once: boolean,
): ListenAddress | undefined {
  if (value === undefined || value === "") return undefined;
  if (once) {
    throw new TypeError(
      "--metrics-listen serves while following events: give it with -w",
    );
  }
  return parseListen(value);
}

/**
 * Starts the metrics listener, or returns the exit status when it cannot
 * listen or `authFile` (`--metrics-auth`) cannot be read.
 */
export async function listenForMetrics(
  program: string,
  address: ListenAddress | undefined,
  authFile?: string,
): Promise<MetricsListener | null | number> {
  if (address === undefined) {
    return authFile === undefined || authFile === ""
      ? null
      : fail(program, "--metrics-auth needs --metrics-listen", EXIT_USAGE);
  }
  let login: PageLogin | undefined;
  try {
    if (authFile !== undefined && authFile !== "") {
      login = await readPageLogin(authFile);
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) throw error;
    return fail(program, errorMessage(error), EXIT_USAGE);
  }
  try {
    return await startMetrics(address, login);
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) throw error;
    return fail(
      program,
      `Cannot serve metrics on ${address.hostname}:${address.port}: ${
        errorMessage(error)
      }`,
    );
  }
}

/** What an entry point runs: once, or following events until a signal. */
export interface Daemon {
  /**
   * Does the work once; resolves to whether it succeeded.
   *
   * @throws {Error} with the line to print when it cannot start (Docker
   * out of reach), or a missing permission.
   */
  once(): Promise<boolean>;
  /** Follows events until `signal` aborts; only a missing permission ends it early. */
  watch(signal: AbortSignal): Promise<void>;
  /** Lets work in progress finish, so no config is left half written. */
  close(): Promise<void>;
}

/** How to run a daemon. */
export interface RunOptions {
  /** Run once (`-1`) rather than follow events (`-w`). */
  readonly once: boolean;
  /** Program name for messages. */
  readonly program: string;
  /** Start-up line for `-w`. */
  readonly banner: string;
  /** Called on SIGHUP in `-w` mode (docker-glue reloads its handler files). */
  readonly onHangup?: () => Promise<void>;
  /** Called on SIGUSR1 in `-w` mode: log files were rotated, open them again. */
  readonly onRotate?: () => Promise<void>;
}

/**
 * Runs the daemon to completion and returns the exit status: with `once`,
 * one pass; otherwise events until SIGTERM or SIGINT.
 */
export async function runDaemon(
  daemon: Daemon,
  options: RunOptions,
): Promise<number> {
  if (options.once) {
    let ok: boolean;
    try {
      ok = await daemon.once();
    } catch (error) {
      if (error instanceof Deno.errors.NotCapable) throw error;
      await daemon.close();
      return fail(options.program, errorMessage(error));
    }
    await daemon.close();
    return ok ? 0 : EXIT_FAILURE;
  }
  const stop = new AbortController();
  // Ctrl-C reaches both this process and a wrapper that passes signals on
  // (scripts/run.ts): the second one is no news.
  const onSignal = () => {
    if (stop.signal.aborted) return;
    log.info("Stopping on signal");
    stop.abort();
  };
  Deno.addSignalListener("SIGTERM", onSignal);
  Deno.addSignalListener("SIGINT", onSignal);
  const hooks = [
    signalHook("SIGHUP", options.onHangup, "Reload on SIGHUP"),
    signalHook("SIGUSR1", options.onRotate, "Reopening log files on SIGUSR1"),
  ];
  log.info(options.banner);
  try {
    await daemon.watch(stop.signal);
  } finally {
    await daemon.close();
    Deno.removeSignalListener("SIGTERM", onSignal);
    Deno.removeSignalListener("SIGINT", onSignal);
    for (const remove of hooks) remove();
  }
  return 0;
}

/**
 * Runs `action` on each `signal` until the returned function is called; a
 * failure is logged as `what` failed.
 */
function signalHook(
  signal: Deno.Signal,
  action: (() => Promise<void>) | undefined,
  what: string,
): () => void {
  if (action === undefined) return () => {};
  const listener = () => {
    action().catch((error) =>
      log.error("{what} failed: {error}", { what, error: fatalMessage(error) })
    );
  };
  Deno.addSignalListener(signal, listener);
  return () => Deno.removeSignalListener(signal, listener);
}

/** Resolves once `signal` aborts. */
export function aborted(signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

/**
 * Checks that Docker answers before a `-1` run.
 *
 * @throws {Error} saying which engine cannot be reached, or a missing permission.
 */
export async function reachDocker(
  docker: { ping(): Promise<unknown> },
  url: string,
): Promise<void> {
  try {
    await docker.ping();
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) throw error;
    throw new Error(`Cannot reach Docker at ${url}: ${errorMessage(error)}`);
  }
}

/** The agent as a daemon: docker-glue's handlers on this host's engine. */
export function agentDaemon(agent: Agent): Daemon {
  return {
    once: async () => {
      await reachDocker(agent.docker, agent.dockerUrl);
      return await agent.once();
    },
    watch: (signal) => agent.watch(signal),
    close: () => agent.close(),
  };
}
