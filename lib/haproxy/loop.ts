/**
 * The loop that keeps HAProxy running what the containers ask for, shared
 * by docker-balancer and docker-glue's HAProxy handler. Sources ask for an
 * update ({@link Balancer.schedule}); an update builds the desired state
 * (model/desired.ts), takes the one pure {@link step} (plan/step.ts) and
 * runs what it says through the effects (io/effects.ts). The loop owns
 * what HAProxy runs (the running state), the one timer (an update soon, a
 * deferred reload, a retry, the file that follows a runtime change, a
 * damped container's second look) and the retries, and it is what logs
 * each decision and outcome (with loop_report.ts).
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { ContainerSource } from "../docker/container.ts";
import { checkConfig, ConfigRejectedError } from "./io/apply.ts";
import { atFault } from "./plan/check_faults.ts";
import {
  checkedFiles,
  type Companions,
  runningOf,
} from "./model/companions.ts";
import { routeRejections, shownRoute } from "../routing/rejections.ts";
import { readOrNull } from "../util/files.ts";
import { templateFit } from "./plan/plan.ts";
import {
  type ApplyMethod,
  NO_TELEMETRY,
  type Telemetry,
} from "../metrics/telemetry.ts";
import { type RenderInput, TemplateError } from "./render/render.ts";
import { backoff } from "../util/sleep.ts";
import { ReportedError } from "../util/reported_error.ts";
import type { RouteTable } from "../routing/route_types.ts";
import { type Desired, DesiredState } from "./model/desired.ts";
import {
  Burst,
  type Capabilities,
  noRuntime,
  type Running,
  step,
  takeBack,
  UNKNOWN,
} from "./plan/step.ts";
import { summarize } from "./plan/runtime_ops.ts";
import type { HAProxyModel } from "./model/model.ts";
import type { RuntimeOp } from "./plan/plan_types.ts";
import { logProcess, LoopReport, type Observed } from "./loop_report.ts";
import { DryRun, type Preview } from "./dry_run.ts";
import { HAProxyEffects } from "./io/effects.ts";
import type { ApplyOutcome } from "./io/apply.ts";
import type { BalancerOptions, BalancerStats } from "./options.ts";
import { HAPROXY_SOCKETS } from "../permissions.ts";
import { errorMessage } from "../util/error_message.ts";

const log = getLogger(["docker-glue", "haproxy"]);

/** Retry of a failed apply: 500 ms doubling up to 30 s. */
const RETRY_BASE_MS = 500;
const RETRY_MAX_MS = 30_000;

/**
 * How far the file may fall behind a runtime change while updates keep
 * coming: past this it is written between two updates.
 */
export const FILE_LAG_MS = 1_000;

/**
 * The file follows a runtime change once changes have been quiet this
 * long. Writing it (`haproxy -c` of the whole file, 250 ms with 4,000
 * routes here) holds up the updates that come meanwhile: written at once,
 * it put that time in front of the next change of a sequence (bench:etcd,
 * 4,000 containers: a join 112 ms instead of 26 ms at the median).
 */
export const FILE_QUIET_MS = 200;

/** A damped container is looked at again this long after it may be. */
const RECHECK_SLACK_MS = 50;

/**
 * Why the loop wakes up: an update asked for (one turn of the event loop
 * later, so that the events of one read are taken together), a reload
 * that waits for the burst, a retry, the file that follows a runtime
 * change, a damped container's second look.
 */
type Wake = "soon" | "deferred" | "retry" | "file" | "recheck";

/** A runtime change whose file is still to be written. */
interface FileDue {
  readonly table: RenderInput;
  readonly companions: Companions;
  /** What HAProxy runs since the change. */
  readonly model: HAProxyModel;
  /** When the first change it carries was made, epoch ms. */
  readonly since: number;
}

/**
 * Whether the file due since `since` is written before the updates asked
 * for: only when it has fallen {@link FILE_LAG_MS} behind.
 */
function fileFirst(since: number, now: number): boolean {
  return now - since >= FILE_LAG_MS;
}

/** When the file due since `since` is written, after a change `now`. */
function fileAt(since: number, now: number): number {
  return Math.min(now + FILE_QUIET_MS, since + FILE_LAG_MS);
}

/** HAProxy's first error line, without its level, pid and "config :". */
function haproxyWords(details: readonly string[]): string {
  const line = details.find((d) => d.includes("[ALERT]")) ?? details[0] ??
    "rejected";
  return line.replace(/^\[ALERT\]\s*\([0-9]+\)\s*:\s*(config\s*:\s*)?/, "");
}

/** Routes and servers of a table, for the log. */
function sizeOf(table: RenderInput): { routes: number; servers: number } {
  let servers = 0;
  for (const route of table.routes) servers += route.servers.length;
  for (const route of table.tcpRoutes) servers += route.servers.length;
  return { routes: table.routes.length + table.tcpRoutes.length, servers };
}

/** Renders and installs HAProxy configurations from a container source. */
export class Balancer {
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
  readonly #telemetry: Telemetry;
  readonly #report = new LoopReport();
  readonly #effects: HAProxyEffects;
  readonly #desired: DesiredState;
  readonly #dryRun: DryRun;
  readonly #burst: Burst;
  #running: Running = UNKNOWN;
  #capabilities: Capabilities;
  /** When the loop is to wake up, epoch ms, by why. */
  readonly #wakes = new Map<Wake, number>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Infinity;
  /** An update asked for and not started: its askers wait on it. */
  #wanted: PromiseWithResolvers<void> | null = null;
  /** The loop's run while it has work. */
  #cycle: Promise<void> | null = null;
  #file: FileDue | null = null;
  /** The file due is written at the loop's next turn. */
  #fileNow = false;
  #attempt = 0;
  #cleanedUp = false;
  /** The last table HAProxy took: routes not in it are suspects of a rejection. */
  #accepted: RenderInput | null = null;
  /** Closed: nothing more runs, writes or reloads. */
  #closed = false;
  /**
   * Opened by the first {@link Balancer.update}, which the agent calls on
   * the handler's first event. Until then a source, a certificate
   * directory or ACME may ask for updates, but nothing runs: after SIGHUP
   * the handler being replaced still runs HAProxy until it has closed.
   */
  #opened = false;

  /** Creates the loop; `source` has the current containers. */
  constructor(options: BalancerOptions, source: ContainerSource) {
    this.#options = options;
    this.#source = source;
    this.#telemetry = options.telemetry ?? NO_TELEMETRY;
    this.#burst = new Burst(options.debounce);
    this.#desired = new DesiredState(options, source.follow?.() ?? null);
    this.#dryRun = new DryRun(options);
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
    this.#capabilities = {
      adminSocket: options.adminSocket !== undefined &&
        options.adminSocket !== "",
      permitted: true,
      misfit,
    };
    this.#effects = new HAProxyEffects(options);
    const managed = options.managed;
    if (managed !== undefined) {
      managed.onEvent = logProcess;
      managed.onRestart = () => {
        // It runs the file as it was when it started; go on from there.
        this.#running = {
          ...this.#running,
          text: managed.loadedText,
          model: null,
        };
        this.schedule();
      };
    }
  }

  /**
   * Asks for an update. It runs at once, or right after the one in
   * progress (changes that arrive meanwhile are taken together); only a
   * reload waits for a burst of events to settle.
   */
  schedule(): void {
    if (this.#closed || !this.#opened) return;
    this.#burst.trigger(Date.now());
    // A reload waiting for this burst takes this change too: no new render.
    if (this.#wakes.has("deferred") && !this.#burst.urgent) return;
    this.#want();
    this.#wake("soon", Date.now());
  }

  /**
   * Asks for an update that no burst may hold back, even when it needs a
   * reload: a container is about to stop and must get no new requests.
   */
  urgent(): void {
    this.#burst.markUrgent();
    this.schedule();
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
    const wanted = this.#want();
    this.#run();
    return wanted;
  }

  /**
   * Runs a scheduled update now, if any, and waits for updates in
   * progress and for the file that follows a runtime change.
   */
  async flush(): Promise<void> {
    if (this.#wakes.has("deferred")) {
      this.#unwake("deferred");
      this.#burst.lead();
      this.#want();
    }
    this.#run();
    while (this.#cycle !== null) await this.#cycle;
    if (this.#file === null || this.#closed) return;
    // Written here, so that its failure is the caller's.
    const write = this.#writeFile();
    this.#cycle = write.catch(() => {}).finally(() => this.#ended());
    await write;
  }

  /** Drops a scheduled update and waits for one in progress. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#stopTimer();
    this.#wakes.clear();
    this.#desired.close();
    await this.#options.acme?.close();
    await this.#options.tls?.source.close();
    while (this.#cycle !== null) await this.#cycle;
    this.#wanted?.resolve();
    this.#wanted = null;
    // HAProxy may outlive us: the file it would restart from must be what it runs.
    if (this.#file !== null) await this.#writeFile().catch(() => {});
    await this.#options.managed?.stop();
  }

  /** Opens the access log file again (SIGUSR1, after log rotation). */
  reopenAccessLog(): Promise<void> {
    return this.#options.managed?.reopenAccessLog?.() ?? Promise.resolve();
  }

  /** What the last update observed (routes, unrouted, certificates); null before it. */
  get observed(): Observed | null {
    return this.#report.seen;
  }

  /** Whether HAProxy runs `key` in the map `file` with `value`. */
  serves(file: string, key: string, value: string): boolean {
    return (this.#running.companions.maps.get(file) ?? []).some((
      [k, v],
    ) => k === key && v === value);
  }

  /** An update is asked for: returns what its askers wait on. */
  #want(): Promise<void> {
    if (this.#wanted === null) {
      this.#wanted = Promise.withResolvers<void>();
      // Askers that do not wait (sources) see its failure in the log.
      this.#wanted.promise.catch(() => {});
    }
    return this.#wanted.promise;
  }

  /** Starts the loop's run, unless it runs. */
  #run(): void {
    if (this.#cycle !== null || this.#closed) return;
    this.#unwake("soon");
    this.#cycle = this.#drive().finally(() => this.#ended());
  }

  #ended(): void {
    this.#cycle = null;
    // Asked for while the run was ending.
    if (this.#wanted !== null || (this.#fileNow && this.#file !== null)) {
      this.#run();
    }
  }

  /**
   * Runs what is due until nothing is: the updates asked for, then the
   * file that follows a runtime change (before them when it has fallen
   * {@link FILE_LAG_MS} behind).
   */
  async #drive(): Promise<void> {
    while (!this.#closed) {
      const file = this.#file;
      const lagging = file !== null && fileFirst(file.since, Date.now());
      const wanted = this.#wanted;
      if (wanted !== null && !lagging) {
        this.#wanted = null;
        this.#unwake("soon");
        try {
          // A runtime change that failed half-way leaves HAProxy's state
          // unknown; the next step, taken at once, reloads.
          while (await this.#update() === "again" && !this.#closed);
          wanted.resolve();
        } catch (error) {
          wanted.reject(error);
        }
        continue;
      }
      if (file !== null && (lagging || this.#fileNow)) {
        await this.#writeFile().catch(() => {});
        continue;
      }
      return;
    }
  }

  /** Sets when the loop wakes up for `why` (replacing an earlier time). */
  #wake(why: Wake, at: number): void {
    this.#wakes.set(why, at);
    this.#arm();
  }

  #unwake(why: Wake): void {
    if (this.#wakes.delete(why)) this.#arm();
  }

  /** Sets the one timer to the earliest wake-up. */
  #arm(): void {
    const at = Math.min(...this.#wakes.values());
    if (at === this.#timerAt) return;
    this.#stopTimer();
    if (at === Infinity || this.#closed) return;
    this.#timerAt = at;
    this.#timer = setTimeout(
      () => this.#woken(),
      Math.max(0, at - Date.now()),
    );
  }

  #stopTimer(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }

  #woken(): void {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    const now = Date.now();
    const due = [...this.#wakes].filter(([, at]) => at <= now + 1);
    for (const [why] of due) this.#wakes.delete(why);
    for (const [why] of due) {
      if (why === "recheck") this.schedule();
      else if (why === "file") this.#fileNow = true;
      else if (why !== "soon") this.#want();
    }
    this.#arm();
    this.#run();
  }

  /** One update; "again" when the next must follow at once. */
  async #update(): Promise<"again" | void> {
    const desired = await this.#desired.build(this.#source);
    this.#observed(desired);
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
    const { leading, urgent } = this.#burst.take();
    const started = performance.now();
    let method: ApplyMethod | "again" | null;
    try {
      method = await this.#apply(desired, built, leading, urgent);
      if (method === null || method === "again") return method ?? undefined;
    } catch (error) {
      if (await this.#isolated(error, table, desired.companions)) return;
      this.#failed(error);
    }
    // A runtime change's file is checked when it is written (#writeFile).
    if (method !== "runtime") this.#accepted = table;
    this.#telemetry.applied(method, (performance.now() - started) / 1000);
    this.#attempt = 0;
    this.#unwake("retry");
    this.#report.placements(desired);
  }

  /** Says what is new in the desired state, and when to look again. */
  #observed(desired: Desired): void {
    const options = this.#options;
    if (desired.recheckAt === undefined) this.#unwake("recheck");
    else this.#wake("recheck", desired.recheckAt + RECHECK_SLACK_MS);
    this.#report.damped(desired.looping, desired.damped);
    this.#report.findings(desired.built.findings);
    this.#report.observe(
      this.#telemetry,
      desired.all,
      () => this.#source.unreadable?.() ?? [],
      desired.built,
      options.routes.includeEnv === true,
      options.tls?.source,
    );
    if (!options.dryRun) {
      options.acme?.want(
        desired.built.routes.filter((route) => route.settings.tls).map((
          route,
        ) => route.host),
      );
    }
    const { table } = desired;
    // Computed only when debug logging is on.
    log.debug("Route table: {routes}", () => ({
      routes: [...table.routes, ...table.tcpRoutes].map((route) =>
        `${route.backend}=[${
          route.servers.map((s) => `${s.address}:${s.port}/${s.weight}`).join(
            " ",
          )
        }]`
      ).join(" "),
    }));
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
    this.#wake("retry", Date.now() + wait);
    throw new ReportedError(errorMessage(error));
  }

  /**
   * Gets HAProxy to run `want` as the {@link step} says. Returns how
   * HAProxy got it, null when a reload waits for the burst to settle, or
   * "again" when a runtime change failed and the next step must reload. A
   * change the runtime API makes leaves the file to follow, so rendering
   * and checking the whole file is not between the event and HAProxy.
   */
  async #apply(
    want: Pick<Desired, "table" | "companions" | "model">,
    built: RouteTable,
    leading: boolean,
    urgent: boolean,
  ): Promise<ApplyMethod | "again" | null> {
    const { configFile } = this.#options.apply;
    await this.#cleanUp();
    const { table, companions, model } = want;
    let rendered: string | null = null;
    const text = () => rendered ??= this.#render(table);
    const running = this.#running;
    const { decision, typed } = step({
      running,
      want,
      capabilities: this.#capabilities,
      tls: this.#options.tls,
      adoptable: running.text === null && this.#options.once === true &&
        await readOrNull(configFile) === text(),
      leading,
      urgent,
      clock: this.#burst.clock(Date.now(), running.lastReload),
      render: text,
      renderPart: (part) => this.#options.renderer.render(part),
    });
    switch (decision.kind) {
      case "runtime":
        return await this.#runtime(decision.ops, typed, want, text);
      case "adopt":
        log.debug("Configuration unchanged; nothing to install");
        await this.#install(text(), table, companions);
        this.#ran(text(), companions, model);
        return "files";
      case "nothing":
        // Nothing for HAProxy; the files are put right if someone changed them.
        if (typed) {
          // The same state: the file due is this one's.
          this.#running = { ...this.#running, model };
          this.#due(table, companions, model);
        } else await this.#install(text(), table, companions);
        return "files";
      case "wait": {
        const { reason, at } = decision;
        this.#wake("deferred", at);
        log.debug("Reload ({reason}) waits {wait} ms for the burst to settle", {
          reason,
          wait: at - Date.now(),
        });
        return null;
      }
      case "reload":
        try {
          this.#dropFile();
          await this.#reload(text(), table, companions, decision.reason, model);
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
    }
  }

  /**
   * Sends runtime operations. The file follows: later when planned from the
   * typed model, at once when planned from the text (it is at hand).
   * "again" when they failed: HAProxy's state is lost and the next step
   * reloads.
   */
  async #runtime(
    ops: readonly RuntimeOp[],
    typed: boolean,
    want: Pick<Desired, "table" | "companions" | "model">,
    text: () => string,
  ): Promise<ApplyMethod | "again"> {
    const { table, companions, model } = want;
    const sent = await this.#effects.send(ops, companions);
    if (!sent.ok) {
      this.stats.runtimeFallbacks++;
      if (sent.refused) this.#refused();
      this.#running = {
        ...this.#running,
        model: null,
        lost: sent.error,
        statesTrusted: false,
      };
      return "again";
    }
    this.#running = {
      ...this.#running,
      model,
      companions: runningOf(companions),
    };
    this.stats.runtimeUpdates++;
    this.#telemetry.runtimeOps(ops);
    log.info(
      "Applied {count} changes through the runtime API, no reload: {summary}",
      { count: ops.length, summary: summarize(ops) },
    );
    if (typed) this.#due(table, companions, model);
    else await this.#follow(text(), table, companions, model);
    return "runtime";
  }

  /** The first time: cleans up after a run that died and keeps a foreign file. */
  async #cleanUp(): Promise<void> {
    if (this.#cleanedUp) return;
    const found = await this.#effects.cleanUp();
    // Cleaning up must not hold up routing: said, and tried at the next start.
    for (const { dir, error } of found.unreadable) {
      log.warn("Cannot look for temporary files in {dir}: {error}", {
        dir,
        error,
      });
    }
    for (const path of found.removed) {
      log.info("Removed {path}, left by a run that stopped while writing", {
        path,
      });
    }
    if (found.kept !== null) {
      log.warn("{file} was not written by docker-balancer; kept it as {kept}", {
        file: this.#options.apply.configFile,
        kept: found.kept,
      });
    }
    this.#cleanedUp = true;
  }

  /** Installs `text` (checked first); reloads nothing. */
  async #install(
    text: string,
    table: RenderInput,
    companions: Companions,
  ): Promise<ApplyOutcome> {
    const outcome = await this.#effects.install(text, companions);
    if (outcome === "applied") {
      this.stats.installs++;
      log.info("Installed {file}: {routes} routes, {servers} servers", {
        file: this.#options.apply.configFile,
        ...sizeOf(table),
      });
    }
    return outcome;
  }

  /** Takes note of what HAProxy runs now: this file, installed. */
  #ran(text: string, companions: Companions, model: HAProxyModel): void {
    this.#running = {
      ...this.#running,
      text,
      model,
      lost: null,
      filed: { text, model, companions },
      companions: runningOf(companions),
    };
  }

  async #reload(
    text: string,
    table: RenderInput,
    companions: Companions,
    reason: string,
    model: HAProxyModel,
  ): Promise<void> {
    this.#effects.forgetCerts();
    await this.#install(text, table, companions);
    const running = this.#running;
    const reloaded = await this.#effects.reload(
      running.statesTrusted && running.text !== null &&
        noRuntime(this.#capabilities) === null,
      running.text,
    );
    if (reloaded.refused) this.#refused();
    if (reloaded.statesNotSaved !== null) {
      log.warn(
        "Cannot save server states to {file}: {error}; the new worker starts from the configuration alone",
        {
          file: this.#options.stateFile ?? "",
          error: reloaded.statesNotSaved,
        },
      );
    }
    this.#ran(text, companions, model);
    this.#running = {
      ...this.#running,
      statesTrusted: true,
      lastReload: Date.now(),
    };
    if (reloaded.silent) return;
    this.stats.reloads++;
    this.#telemetry.reloaded(reloaded.seconds);
    log.info("Reloaded HAProxy: {reason}", { reason });
  }

  /** The binary may not use the admin socket: said once; every change reloads from now on. */
  #refused(): void {
    if (!this.#capabilities.permitted) return;
    this.#capabilities = { ...this.#capabilities, permitted: false };
    log.warn(
      "Not allowed to use HAProxy's admin socket {socket}; every change reloads (this binary may use {allowed})",
      {
        socket: this.#options.adminSocket ?? "",
        allowed: HAPROXY_SOCKETS[0] ?? "",
      },
    );
  }

  /** A runtime change was made: its file is due (replacing an older one). */
  #due(table: RenderInput, companions: Companions, model: HAProxyModel): void {
    const now = Date.now();
    const since = this.#file?.since ?? now;
    this.#file = { table, companions, model, since };
    this.#wake("file", fileAt(since, now));
  }

  /** Forgets the file due: a reload writes its own. */
  #dropFile(): void {
    this.#file = null;
    this.#fileNow = false;
    this.#unwake("file");
  }

  /**
   * Renders, checks and installs the file of the last runtime change. A
   * file HAProxy rejects takes that change back and is reported like any
   * rejected configuration.
   */
  async #writeFile(): Promise<void> {
    const due = this.#file;
    this.#dropFile();
    // A reload since wrote its own file.
    if (due === null || this.#running.model !== due.model) return;
    try {
      await this.#follow(
        this.#render(due.table),
        due.table,
        due.companions,
        due.model,
      );
      this.#unwake("retry");
      this.#accepted = due.table;
    } catch (error) {
      if (await this.#isolated(error, due.table, due.companions)) return;
      this.#failed(error);
    }
  }

  /**
   * Installs the file of what HAProxy runs now, after a runtime change. A
   * file HAProxy rejects, or one that cannot be written, takes the change
   * back to what the last file describes, so HAProxy never runs what no
   * file would.
   *
   * @throws {ConfigRejectedError} when `haproxy -c` rejects the file.
   */
  async #follow(
    text: string,
    table: RenderInput,
    companions: Companions,
    model: HAProxyModel,
  ): Promise<void> {
    try {
      await this.#install(text, table, companions);
    } catch (error) {
      await this.#takeBack();
      throw error;
    }
    const running = this.#running;
    this.#running = {
      ...running,
      filed: { text, model, companions },
      // HAProxy may have moved on meanwhile; its text is then still behind.
      text: running.model === model ? text : running.text,
    };
  }

  /**
   * Takes HAProxy back to what the last file describes after a runtime
   * change whose file was rejected. When that cannot be done through the
   * admin socket, what HAProxy runs is unknown and the next update reloads.
   */
  async #takeBack(): Promise<void> {
    const back = takeBack(this.#running, this.#options.tls);
    let why: string;
    if ("ops" in back) {
      if (back.ops.length === 0) return;
      const sent = await this.#effects.send(back.ops, back.to.companions);
      if (sent.ok) {
        this.#running = {
          ...this.#running,
          model: back.to.model,
          companions: runningOf(back.to.companions),
        };
        log.warn(
          "Took back the runtime change HAProxy's check of the file rejected: {summary}",
          { summary: summarize(back.ops) },
        );
        return;
      }
      if (sent.refused) this.#refused();
      why = sent.error;
    } else why = back.reason;
    // HAProxy now runs servers no file describes; the next reload ends it.
    this.#running = {
      ...this.#running,
      statesTrusted: false,
      text: null,
      model: null,
    };
    log.error("Cannot take back the rejected runtime change: {error}", {
      error: why,
    });
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
