/**
 * The HAProxy engine shared by docker-balancer and docker-glue's HAProxy
 * handler. Each update runs containers -> routes -> render -> plan, then
 * one {@link decide} says what to do, and the effect modules do it: the
 * admin socket (runtime_ops.ts), the files (apply.ts, companions.ts), the
 * HAProxy process (process.ts), the preview (dry_run.ts). This is the
 * only place that decides and logs the outcome.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { ContainerRecord, ContainerSource } from "../docker/container.ts";
import { Debouncer } from "../util/debounce.ts";
import { ConfigRejectedError, keepForeignConfig } from "./apply.ts";
import { readOrNull } from "../util/files.ts";
import { planChange, templateFit } from "./plan.ts";
import type { Preview } from "./preview.ts";
import {
  type ApplyMethod,
  NO_TELEMETRY,
  type Telemetry,
} from "../metrics/telemetry.ts";
import { type RenderInput, TemplateError } from "./render.ts";
import { backoff } from "../util/sleep.ts";
import { ReportedError } from "../util/reported_error.ts";
import type { RouteTable } from "./routes.ts";
import { DesiredState } from "./desired.ts";
import { companionChanges, type Companions } from "./companions.ts";
import { Burst, decide, type Decision } from "./decide.ts";
import { EngineReport } from "./engine_report.ts";
import { previewChange, printedConfig } from "./dry_run.ts";
import { Timers } from "../util/timers.ts";
import { HAProxyDriver } from "./driver.ts";
import type { BalancerOptions, BalancerStats } from "./engine_options.ts";
import { errorMessage } from "../util/error_message.ts";

const log = getLogger(["docker-glue", "haproxy"]);

export type { BalancerOptions, BalancerStats };

/** Retry of a failed apply: 500 ms doubling up to 30 s. */
const RETRY_BASE_MS = 500;
const RETRY_MAX_MS = 30_000;

type Timer = "retry" | "deferred";

/** Renders and installs HAProxy configurations from a container source. */
export class HAProxyBalancer {
  /** What the last update would change, with `preview` (`--diff`). */
  preview: Preview | null = null;
  /** Counters since start. */
  readonly stats: BalancerStats = {
    renders: 0,
    installs: 0,
    reloads: 0,
    rejections: 0,
    runtimeUpdates: 0,
    runtimeFallbacks: 0,
  };
  readonly #options: BalancerOptions;
  readonly #source: ContainerSource;
  readonly #debouncer: Debouncer;
  readonly #telemetry: Telemetry;
  readonly #report = new EngineReport();
  readonly #driver: HAProxyDriver;
  readonly #timers = new Timers<Timer>();
  readonly #desired: DesiredState;
  #lastPrinted: string | null = null;
  #queue: Promise<void> = Promise.resolve();
  #checkedForeign = false;
  #attempt = 0;
  readonly #burst: Burst;
  /** Closed: nothing more runs, writes or reloads. */
  #closed = false;
  /**
   * Opened by the first {@link HAProxyBalancer.update}, which the agent
   * calls on the handler's first event. Until then a source, a certificate
   * directory or ACME may ask for updates, but nothing runs: after SIGHUP
   * the handler being replaced still runs HAProxy until it has closed.
   */
  #opened = false;

  /** Creates the engine; `source` has the current containers. */
  constructor(options: BalancerOptions, source: ContainerSource) {
    this.#options = options;
    this.#source = source;
    this.#telemetry = options.telemetry ?? NO_TELEMETRY;
    this.#burst = new Burst(options.debounce);
    this.#desired = new DesiredState(
      options,
      this.#report,
      this.#telemetry,
      () => this.schedule(),
    );
    const misfit = options.adminSocket && !options.dryRun
      ? templateFit((input) => options.renderer.render(input))
      : null;
    if (misfit !== null) {
      log.warn(
        "The template renders more than server lines when a server joins ({reason}); every change reloads HAProxy",
        { reason: misfit },
      );
    }
    this.#driver = new HAProxyDriver(
      options,
      this.stats,
      this.#telemetry,
      misfit,
    );
    const managed = options.managed;
    if (managed !== undefined) {
      managed.onRestart = () => {
        // It runs the file as it was when it started; go on from there.
        this.#driver.running = managed.loadedText;
        this.schedule();
      };
    }
    // Updates run back to back; what arrives during one is taken together
    // by the next. The debounce timing holds back reloads alone (decide.ts).
    this.#debouncer = new Debouncer(
      () => this.update().catch(() => {}),
      { quietMs: 0, maxMs: 0 },
    );
  }

  /**
   * Asks for an update. It runs at once, or right after the one in
   * progress (changes that arrive meanwhile are taken together); only a
   * reload waits for a burst of events to settle.
   */
  schedule(): void {
    if (this.#closed) return;
    if (!this.#opened) return;
    this.#burst.trigger(Date.now());
    // A reload already waits for this burst and will take this change too;
    // rendering again for every event of a storm would only churn memory.
    if (this.#timers.has("deferred") && !this.#burst.urgent) return;
    this.#debouncer.trigger();
  }

  /** Runs a scheduled update now, if any, and waits for updates in progress. */
  async flush(): Promise<void> {
    if (this.#timers.has("deferred")) {
      this.#timers.clear("deferred");
      this.#burst.lead();
      this.#debouncer.trigger();
    }
    await this.#debouncer.flush();
    await this.#queue;
  }

  /**
   * Asks for an update that no burst may hold back, even when it needs a
   * reload: a container is about to stop and must get no new requests.
   */
  urgent(): void {
    this.#burst.markUrgent();
    this.schedule();
  }

  /** Drops a scheduled update and waits for one in progress. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#timers.clearAll();
    this.#desired.close();
    await this.#debouncer.stop();
    await this.#options.acme?.close();
    await this.#options.tls?.source.close();
    await this.#queue;
    // An update in progress may have armed a retry or a deferred reload.
    this.#timers.clearAll();
    await this.#options.managed?.stop();
  }

  /** Whether HAProxy runs `key` in the map `file` with `value`. */
  serves(file: string, key: string, value: string): boolean {
    return (this.#driver.runningCompanions.maps.get(file) ?? []).some((
      [k, v],
    ) => k === key && v === value);
  }

  /**
   * Renders the current containers and installs the result. Updates never
   * overlap; each one starts from the inventory as it is when it runs.
   *
   * @throws {ReportedError} when the template fails, HAProxy rejects the
   * configuration or the reload command fails; the details are logged.
   */
  update(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#opened = true;
    const run = this.#queue.then(() =>
      this.#closed ? undefined : this.#update()
    );
    this.#queue = run.catch(() => {});
    return run;
  }

  async #update(): Promise<void> {
    const all = this.#source.list();
    const { built, table, companions } = await this.#desired.build(all);
    const text = this.#render(table);
    if (this.#options.dryRun) {
      return await this.#dryRun(text, companions, table, all);
    }
    const routes = [...table.routes, ...table.tcpRoutes];
    this.#driver.size = {
      routes: routes.length,
      servers: routes.reduce((n, r) => n + r.servers.length, 0),
    };
    const { leading, urgent } = this.#burst.take();
    const started = performance.now();
    let method: ApplyMethod | null;
    try {
      method = await this.#apply(text, companions, built, leading, urgent);
      if (method === null) return;
    } catch (error) {
      this.#failed(error);
    }
    this.#telemetry.applied(method, (performance.now() - started) / 1000);
    this.#attempt = 0;
    this.#timers.clear("retry");
    this.#report.placements(table, all);
  }

  /** @throws {ReportedError} when the template fails. */
  #render(table: RouteTable & RenderInput): string {
    try {
      const text = this.#options.renderer.render(table);
      this.stats.renders++;
      this.#telemetry.rendered();
      return text;
    } catch (error) {
      if (!(error instanceof TemplateError)) throw error;
      this.#telemetry.applyFailed(error.message);
      log.error("{message}; kept the running configuration", {
        message: error.message,
      });
      throw new ReportedError(error.message);
    }
  }

  /** Prints the rendering, or keeps the preview (`--diff`). */
  async #dryRun(
    text: string,
    companions: Companions,
    table: RouteTable,
    all: readonly ContainerRecord[],
  ): Promise<void> {
    if (this.#options.preview) {
      try {
        this.preview = await previewChange(
          text,
          companions,
          this.#options.apply,
          this.#options.tls,
        );
      } catch (error) {
        if (!(error instanceof ConfigRejectedError)) throw error;
        this.#rejected(error);
      }
      return;
    }
    const printed = printedConfig(text, companions, this.#options.tls);
    if (printed !== this.#lastPrinted) {
      (this.#options.print ?? ((out) => console.log(out)))(printed);
      this.#lastPrinted = printed;
    }
    this.#report.placements(table, all);
  }

  /** Logs a rejected configuration and throws it as reported. */
  #rejected(error: ConfigRejectedError): never {
    this.stats.rejections++;
    log.error("{message}", { message: error.message });
    for (const line of error.details) log.error("haproxy: {line}", { line });
    throw new ReportedError(error.message);
  }

  /**
   * After a failed apply: a rejection is reported; anything else (a full
   * disk, a reload that failed, an HAProxy that does not start) is nothing
   * the next event fixes, so it is tried again by itself.
   */
  #failed(error: unknown): never {
    this.#telemetry.applyFailed(errorMessage(error));
    if (error instanceof ConfigRejectedError) {
      this.#telemetry.validationFailed();
      this.#rejected(error);
    }
    if (error instanceof Deno.errors.NotCapable) throw error;
    if (error instanceof ReportedError) throw error;
    const wait = backoff(this.#attempt++, RETRY_BASE_MS, RETRY_MAX_MS);
    log.error("Cannot apply {file}: {message}; retrying in {wait} ms", {
      file: this.#options.apply.configFile,
      message: errorMessage(error),
      wait,
    });
    this.#timers.set("retry", wait, () => this.update().catch(() => {}));
    throw new ReportedError(errorMessage(error));
  }

  /**
   * Gets HAProxy to run `text` (and its maps and certificates) as
   * {@link decide} says. Returns how HAProxy got it, or null when a reload
   * waits for the burst to settle.
   */
  async #apply(
    text: string,
    companions: Companions,
    table: RouteTable,
    leading: boolean,
    urgent: boolean,
  ): Promise<ApplyMethod | null> {
    const { configFile } = this.#options.apply;
    const driver = this.#driver;
    if (!this.#checkedForeign) {
      const kept = await keepForeignConfig(configFile);
      if (kept !== null) {
        log.warn(
          "{file} was not written by docker-balancer; kept it as {kept}",
          { file: configFile, kept },
        );
      }
      this.#checkedForeign = true;
    }
    const input = {
      plan: planChange(
        driver.running,
        text,
        companionChanges(
          driver.runningCompanions,
          companions,
          this.#options.tls,
        ),
      ),
      noRuntime: driver.noRuntime,
      known: driver.running !== null,
      adoptable: driver.running === null && this.#options.once === true &&
        await readOrNull(configFile) === text,
      leading,
      urgent,
      clock: this.#burst.clock(Date.now(), driver.lastReload),
    };
    let decision: Decision = decide(input);
    if (decision.kind === "runtime") {
      const failure = await driver.runtime(decision.ops, text, companions);
      if (failure === null) return "runtime";
      decision = decide({ ...input, runtimeFailed: failure });
    }
    switch (decision.kind) {
      case "adopt":
        log.debug("Configuration unchanged; nothing to install");
        await driver.install(text, companions);
        driver.ran(text, companions);
        return "files";
      case "nothing":
        // Nothing for HAProxy; the files are put right if someone changed them.
        await driver.install(text, companions);
        return "files";
      case "wait":
        this.#timers.set(
          "deferred",
          decision.at - Date.now(),
          () => this.update().catch(() => {}),
        );
        log.debug("Reload ({reason}) waits {wait} ms for the burst to settle", {
          reason: decision.reason,
          wait: decision.at - Date.now(),
        });
        return null;
      case "reload":
        try {
          await driver.reload(text, companions, decision.reason);
        } catch (error) {
          // A listener HAProxy could not open is traced to the route that
          // asked for it, which the next update leaves out.
          if (await this.#desired.trace(errorMessage(error), table)) {
            this.schedule();
            throw new ReportedError(errorMessage(error));
          }
          throw error;
        }
        return "reload";
      case "runtime":
        throw new Error("a runtime decision after a runtime failure");
    }
  }
}
