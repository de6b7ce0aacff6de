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
import type { ContainerSource } from "../sources/container.ts";
import { Debouncer } from "../util/debounce.ts";
import { checkConfig, ConfigRejectedError } from "./io/apply.ts";
import { atFault } from "./plan/check_faults.ts";
import { checkedFiles, type Companions } from "./model/companions.ts";
import { routeRejections, shownRoute } from "../routing/rejections.ts";
import { readOrNull } from "../util/files.ts";
import { templateFit } from "./plan/plan.ts";
import { planUpdate } from "./plan/update_plan.ts";
import type { Preview } from "../report/preview.ts";
import {
  type ApplyMethod,
  NO_TELEMETRY,
  type Telemetry,
} from "../report/telemetry.ts";
import { type RenderInput, TemplateError } from "./render/render.ts";
import { backoff } from "../util/sleep.ts";
import { ReportedError } from "../util/reported_error.ts";
import type { RouteTable } from "../routing/route_types.ts";
import { type Desired, DesiredState } from "./model/desired.ts";
import { Burst, decide, type Decision } from "./plan/decide.ts";
import { FileFollower } from "./io/file_follower.ts";
import { EngineReport } from "./engine_report.ts";
import { DryRun } from "./dry_run.ts";
import { Timers } from "../util/timers.ts";
import { HAProxyDriver } from "./io/driver.ts";
import type { BalancerOptions, BalancerStats } from "./engine_options.ts";
import { errorMessage } from "../util/error_message.ts";

const log = getLogger(["docker-glue", "haproxy"]);

/** HAProxy's first error line, without its level, pid and "config :". */
function haproxyWords(details: readonly string[]): string {
  const line = details.find((d) => d.includes("[ALERT]")) ?? details[0] ??
    "rejected";
  return line.replace(/^\[ALERT\]\s*\([0-9]+\)\s*:\s*(config\s*:\s*)?/, "");
}

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
  readonly #dryRun: DryRun;
  #queue: Promise<void> = Promise.resolve();
  /** Updates asked for and not finished. */
  #busy = 0;
  readonly #file: FileFollower;
  #attempt = 0;
  /** The last table HAProxy took: routes not in it are suspects of a rejection. */
  #accepted: RenderInput | null = null;
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
      source.follow?.() ?? null,
    );
    this.#dryRun = new DryRun(options);
    this.#file = new FileFollower({
      busy: () => this.#busy > 0,
      write: () => this.#enqueue(() => this.#writeFile()).catch(() => {}),
    });
    const misfit = options.adminSocket && !options.dryRun
      ? templateFit(
        (input) => options.renderer.render(input),
        options.maps?.http !== undefined,
      )
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
      () => this.schedule(),
    );
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
    // A reload waiting for this burst takes this change too: no new render.
    if (this.#timers.has("deferred") && !this.#burst.urgent) return;
    this.#debouncer.trigger();
  }

  /**
   * Runs a scheduled update now, if any, and waits for updates in
   * progress and for the file that follows a runtime change.
   */
  async flush(): Promise<void> {
    if (this.#timers.has("deferred")) {
      this.#timers.clear("deferred");
      this.#burst.lead();
      this.#debouncer.trigger();
    }
    await this.#debouncer.flush();
    await this.#queue;
    if (this.#file.pending) await this.#enqueue(() => this.#writeFile());
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
    // HAProxy may outlive us: the file it would restart from must be what it runs.
    if (this.#file.pending) await this.#writeFile().catch(() => {});
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
    this.#busy++;
    return this.#enqueue(() => this.#update()).finally(() => this.#busy--);
  }

  /** Runs `task` after everything queued before it, unless closed by then. */
  #enqueue(task: () => Promise<void>): Promise<void> {
    const run = this.#queue.then(() => this.#closed ? undefined : task());
    this.#queue = run.catch(() => {});
    return run;
  }

  async #update(): Promise<void> {
    const desired = await this.#desired.build(this.#source);
    const { built, table, companions } = desired;
    if (this.#options.dryRun) {
      try {
        this.preview = await this.#dryRun.run(this.#render(table), companions);
      } catch (error) {
        if (!(error instanceof ConfigRejectedError)) throw error;
        this.#rejected(error);
      }
      if (this.preview === null) this.#report.placements(desired);
      return;
    }
    this.#driver.applying(table);
    const { leading, urgent } = this.#burst.take();
    const started = performance.now();
    let method: ApplyMethod | null;
    try {
      method = await this.#apply(desired, built, leading, urgent);
      if (method === null) return;
    } catch (error) {
      if (await this.#isolated(error, table, desired.companions)) return;
      this.#failed(error);
    }
    // A runtime change's file is checked when it is written (#writeFile).
    if (method !== "runtime") this.#accepted = table;
    this.#telemetry.applied(method, (performance.now() - started) / 1000);
    this.#attempt = 0;
    this.#timers.clear("retry");
    this.#report.placements(desired);
  }

  /** @throws {ReportedError} when the template fails. */
  #render(table: RenderInput): string {
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
   * Gets HAProxy to run `table` (and its maps and certificates) as
   * {@link decide} says. Returns how HAProxy got it, or null when a reload
   * waits for the burst to settle. A change the runtime API makes leaves
   * the file to follow (file_follower.ts), so
   * rendering and checking the whole file is not between the event and
   * HAProxy; anything else renders the file first.
   */
  async #apply(
    want: Pick<Desired, "table" | "companions" | "model">,
    built: RouteTable,
    leading: boolean,
    urgent: boolean,
  ): Promise<ApplyMethod | null> {
    const { configFile } = this.#options.apply;
    const driver = this.#driver;
    await driver.keepForeign();
    const { table, companions, model } = want;
    let rendered: string | null = null;
    const text = () => rendered ??= this.#render(table);
    const { plan, typed, known } = planUpdate(
      driver,
      want,
      this.#options.tls,
      text,
      (part) => this.#options.renderer.render(part),
    );
    const input = {
      plan,
      noRuntime: driver.noRuntime,
      known,
      adoptable: driver.running === null && this.#options.once === true &&
        await readOrNull(configFile) === text(),
      leading,
      urgent,
      clock: this.#burst.clock(Date.now(), driver.lastReload),
    };
    let decision: Decision = decide(input);
    if (decision.kind === "runtime") {
      const failure = await driver.runtime(decision.ops, companions, model);
      if (failure === null) {
        // Planned from the text, the file is at hand: it goes in at once.
        if (typed) this.#file.due(table, companions, model);
        else await driver.follow(text(), companions, model);
        return "runtime";
      }
      decision = decide({ ...input, runtimeFailed: failure });
    }
    switch (decision.kind) {
      case "adopt":
        log.debug("Configuration unchanged; nothing to install");
        await driver.install(text(), companions);
        driver.ran(text(), companions, model);
        return "files";
      case "nothing":
        // Nothing for HAProxy; the files are put right if someone changed them.
        if (typed) {
          driver.model = model; // the same state: the file due is this one's
          this.#file.due(table, companions, model);
        } else await driver.install(text(), companions);
        return "files";
      case "wait": {
        const { reason, at } = decision;
        const wait = at - Date.now();
        this.#timers.set("deferred", wait, () => this.update().catch(() => {}));
        log.debug("Reload ({reason}) waits {wait} ms for the burst to settle", {
          reason,
          wait,
        });
        return null;
      }
      case "reload":
        try {
          this.#file.drop();
          await driver.reload(text(), companions, decision.reason, model);
        } catch (error) {
          // A listener HAProxy could not open is traced to the route that
          // asked for it, which the next update leaves out.
          if (await this.#desired.trace(errorMessage(error), built)) {
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

  /**
   * Renders, checks and installs the file of the last runtime change. A
   * file HAProxy rejects takes that change back (driver.ts) and is
   * reported like any rejected configuration.
   */
  async #writeFile(): Promise<void> {
    const due = this.#file.take();
    // A reload since wrote its own file.
    if (due === null || this.#driver.model !== due.model) return;
    try {
      await this.#driver.follow(
        this.#render(due.table),
        due.companions,
        due.model,
      );
      this.#timers.clear("retry");
      this.#accepted = due.table;
    } catch (error) {
      if (await this.#isolated(error, due.table, due.companions)) return;
      this.#failed(error);
    }
  }

  /**
   * After `haproxy -c` rejected the file of `table`: finds the routes at
   * fault (check_faults.ts), notes them as rejected for the next build
   * and asks for it, so the rest is installed. Returns whether it did;
   * false for any other error, or when no route is at fault.
   */
  async #isolated(
    error: unknown,
    table: RenderInput,
    companions: Companions,
  ): Promise<boolean> {
    if (!(error instanceof ConfigRejectedError) || this.#options.dryRun) {
      return false;
    }
    const files = checkedFiles(companions, this.#options.tls);
    const routes = await atFault(
      error,
      table,
      this.#accepted,
      async (part) => {
        try {
          await checkConfig(this.#render(part), files, this.#options.apply);
          return true;
        } catch (failure) {
          if (failure instanceof ConfigRejectedError) return false;
          throw failure;
        }
      },
    );
    if (routes.length === 0) return false;
    this.stats.rejections++;
    this.#telemetry.validationFailed();
    const message = haproxyWords(error.details);
    await this.#desired.reject(routeRejections(routes, message, Date.now()));
    log.warn(
      "HAProxy rejected the configuration; left out {count} route(s) at fault ({routes}) and installing the rest: {message}",
      {
        count: routes.length,
        routes: routes.map(shownRoute).join(", "),
        message,
      },
    );
    this.schedule();
    return true;
  }
}
