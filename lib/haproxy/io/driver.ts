/**
 * What HAProxy runs, and the effects that change it: runtime operations on
 * the admin socket (taken back when the file that follows is rejected),
 * installing the files, saving server states and reloading. The engine
 * decides; the driver does what it was told and keeps track of the result.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { applyConfig, keepForeignConfig, reload } from "./apply.ts";
import {
  dirname,
  removeStaleTemps,
  writeAtomically,
} from "../../util/files.ts";
import { type RuntimeOp } from "../plan/plan_types.ts";
import { shapeOf } from "../render/config_shape.ts";
import type { HAProxyModel } from "../model/model.ts";
import type { RenderInput } from "../render/render.ts";
import { planModel } from "../plan/plan_model.ts";
import type { Telemetry } from "../../report/telemetry.ts";
import { AdminSocket, type RuntimeApi } from "./runtime.ts";
import { HAPROXY_SOCKETS } from "../../permissions.ts";
import {
  CertWriter,
  companionChanges,
  companionFiles,
  type Companions,
  expectationOf,
  NO_COMPANIONS,
  type RunningCompanions,
  runningOf,
} from "../model/companions.ts";
import { applyOps, summarize } from "../plan/runtime_ops.ts";
import type { BalancerOptions, BalancerStats } from "../engine_options.ts";
import { errorMessage } from "../../util/error_message.ts";

const log = getLogger(["docker-glue", "haproxy"]);

/** Routes and servers of a table, for the log: counted only when logged. */
function sizeOf(table: RenderInput): { routes: number; servers: number } {
  let servers = 0;
  for (const route of table.routes) servers += route.servers.length;
  for (const route of table.tcpRoutes) servers += route.servers.length;
  return { routes: table.routes.length + table.tcpRoutes.length, servers };
}

/** A configuration file installed, with the state it describes. */
export interface Filed {
  /** The file. */
  readonly text: string;
  /** What it describes, typed. */
  readonly model: HAProxyModel;
  /** Its maps and certificates. */
  readonly companions: Companions;
}

/** Runs and tracks one HAProxy for the engine. */
export class HAProxyDriver {
  /** The file HAProxy was last given, when known; its servers may lag a runtime change. */
  running: string | null = null;
  /** What HAProxy runs, typed; null when only the text (or nothing) is known. */
  model: HAProxyModel | null = null;
  /** The last file installed, which a restarted HAProxy would run. */
  filed: Filed | null = null;
  /** The maps and certificates HAProxy runs. */
  runningCompanions: RunningCompanions = NO_COMPANIONS;
  /** When HAProxy last reloaded, ms since the epoch. */
  lastReload = -Infinity;
  /** Size of the table being applied, for the log. */
  #table: RenderInput = { routes: [], tcpRoutes: [] };
  readonly #options: BalancerOptions;
  readonly #stats: BalancerStats;
  readonly #telemetry: Telemetry;
  readonly #certs: CertWriter;
  #admin: RuntimeApi | null;
  /** Why the runtime API is not used, when it is not. */
  #noRuntime: string | null;
  /** False after a runtime change failed half-way: HAProxy's server states are then not saved. */
  #statesTrusted = true;
  #checkedForeign = false;

  /**
   * Creates the driver. `misfit` says why the template keeps membership
   * changes from the runtime API, or is null when it does not;
   * `restarted` is called when a managed HAProxy restarted by itself.
   */
  constructor(
    options: BalancerOptions,
    stats: BalancerStats,
    telemetry: Telemetry,
    misfit: string | null,
    restarted: () => void,
  ) {
    this.#options = options;
    const managed = options.managed;
    if (managed !== undefined) {
      managed.onRestart = () => {
        // It runs the file as it was when it started; go on from there.
        this.running = managed.loadedText;
        this.model = null;
        restarted();
      };
    }
    this.#stats = stats;
    this.#telemetry = telemetry;
    this.#certs = new CertWriter(options.tls);
    this.#admin = options.adminSocket && misfit === null
      ? options.runtimeApi ?? new AdminSocket(options.adminSocket)
      : null;
    this.#noRuntime = !options.adminSocket
      ? "no admin socket"
      : misfit === null
      ? null
      : `the template renders more than server lines (${misfit})`;
  }

  /** Takes note of the table being applied: its size is logged when installed. */
  applying(table: RenderInput): void {
    this.#table = table;
  }

  /** Why changes cannot go through the runtime API, or null when they can. */
  get noRuntime(): string | null {
    return this.#noRuntime;
  }

  /**
   * Makes the change through the admin socket alone: the file follows
   * ({@link HAProxyDriver.follow}). Returns null when done, or why the
   * runtime API failed (HAProxy's state is then unknown and a reload
   * follows).
   */
  async runtime(
    ops: readonly RuntimeOp[],
    companions: Companions,
    model: HAProxyModel,
  ): Promise<string | null> {
    const admin = this.#admin;
    if (admin === null) return "no admin socket";
    const failure = await this.#send(admin, ops, companions);
    if (failure !== null) return failure;
    this.model = model;
    this.runningCompanions = runningOf(companions);
    this.#applied(ops);
    return null;
  }

  /**
   * Installs the file of what HAProxy runs now, after a runtime change. A
   * file HAProxy rejects, or one that cannot be written, takes the change
   * back to what the last file describes, so HAProxy never runs what no
   * file would.
   *
   * @throws {ConfigRejectedError} when `haproxy -c` rejects the file.
   */
  async follow(
    text: string,
    companions: Companions,
    model: HAProxyModel,
  ): Promise<void> {
    try {
      await this.install(text, companions);
    } catch (error) {
      await this.#undoTo(this.filed);
      throw error;
    }
    this.filed = { text, model, companions };
    // HAProxy may have moved on meanwhile; its text is then still behind.
    if (this.model === model) this.running = text;
  }

  /** Sends runtime operations; returns null, or why they failed. */
  async #send(
    admin: RuntimeApi,
    ops: readonly RuntimeOp[],
    companions: Companions,
  ): Promise<string | null> {
    try {
      // New certificates are on disk before HAProxy is told of them.
      await this.#certs.write(companions);
      await applyOps(admin, ops, expectationOf(companions, this.#options.tls));
      return null;
    } catch (error) {
      if (error instanceof Deno.errors.NotCapable) this.#noPermission();
      this.#stats.runtimeFallbacks++;
      this.#statesTrusted = false;
      this.model = null;
      return errorMessage(error);
    }
  }

  #applied(ops: readonly RuntimeOp[]): void {
    this.#stats.runtimeUpdates++;
    this.#telemetry.runtimeOps(ops);
    log.info(
      "Applied {count} changes through the runtime API, no reload: {summary}",
      { count: ops.length, summary: summarize(ops) },
    );
  }

  /**
   * Takes HAProxy back to what `filed` describes after a runtime change
   * whose file was rejected. When that cannot be done through the admin
   * socket, what HAProxy runs is unknown and the next update reloads.
   */
  async #undoTo(filed: Filed | null): Promise<void> {
    const admin = this.#admin;
    const model = this.model;
    const back = filed === null || model === null ? null : planModel(
      model,
      filed.model,
      companionChanges(
        this.runningCompanions,
        filed.companions,
        this.#options.tls,
      ),
      () => shapeOf(filed.text),
    );
    if (back?.kind === "none") return;
    try {
      if (back?.kind !== "runtime" || admin === null || filed === null) {
        throw new Error(back?.kind === "reload" ? back.reason : "no plan");
      }
      await applyOps(
        admin,
        back.ops,
        expectationOf(filed.companions, this.#options.tls),
      );
      this.model = filed.model;
      this.runningCompanions = runningOf(filed.companions);
      log.warn(
        "Took back the runtime change HAProxy's check of the file rejected: {summary}",
        { summary: summarize(back.ops) },
      );
    } catch (error) {
      // HAProxy now runs servers no file describes; the next reload ends it.
      this.#statesTrusted = false;
      this.running = null;
      this.model = null;
      log.error("Cannot take back the rejected runtime change: {error}", {
        error: errorMessage(error),
      });
    }
  }

  /**
   * The first time: removes the temporary files a run that died left beside
   * the configuration and the certificates (private keys among them), and
   * keeps a file at the configuration's path that docker-balancer did not
   * write, before it is replaced.
   */
  async keepForeign(): Promise<void> {
    if (this.#checkedForeign) return;
    const file = this.#options.apply.configFile;
    const tls = this.#options.tls;
    const dirs = [dirname(file)];
    if (tls !== undefined) {
      dirs.push(tls.liveDir, tls.source.dir, `${tls.source.dir}/.acme`);
    }
    for (const dir of dirs) {
      // Cleaning up must not hold up routing: said, and tried at the next start.
      const removed = await removeStaleTemps(dir).catch((error) => {
        log.warn("Cannot look for temporary files in {dir}: {error}", {
          dir,
          error: errorMessage(error),
        });
        return [];
      });
      for (const path of removed) {
        log.info("Removed {path}, left by a run that stopped while writing", {
          path,
        });
      }
    }
    const kept = await keepForeignConfig(file);
    if (kept !== null) {
      log.warn("{file} was not written by docker-balancer; kept it as {kept}", {
        file,
        kept,
      });
    }
    this.#checkedForeign = true;
  }

  /**
   * Validates and installs `text`, with its certificate files, maps and
   * crt-list before it; reloads nothing.
   */
  async install(text: string, companions: Companions): Promise<void> {
    await this.#certs.write(companions);
    // HAProxy reads the maps and the crt-list with the configuration.
    const files = companionFiles(companions, this.#options.tls);
    const outcome = this.#options.install
      ? await this.#options.install(text, files)
      : await applyConfig(text, {
        ...this.#options.apply,
        reloadCmd: [],
        companions: files,
      });
    if (outcome === "applied") {
      this.#stats.installs++;
      log.info("Installed {file}: {routes} routes, {servers} servers", {
        file: this.#options.apply.configFile,
        ...sizeOf(this.#table),
      });
    }
    await this.#certs.prune(companions);
  }

  /** Takes note of what HAProxy runs now: this file, installed. */
  ran(text: string, companions: Companions, model: HAProxyModel): void {
    this.running = text;
    this.model = model;
    this.filed = { text, model, companions };
    this.runningCompanions = runningOf(companions);
  }

  /**
   * Installs and reloads. When a managed HAProxy will not take the file,
   * the file it runs is put back.
   */
  async reload(
    text: string,
    companions: Companions,
    reason: string,
    model: HAProxyModel,
  ): Promise<void> {
    // HAProxy reads every certificate file again: make sure each is there.
    this.#certs.forget();
    await this.install(text, companions);
    await this.#saveStates();
    const managed = this.#options.managed;
    const command = this.#options.apply.reloadCmd;
    // A managed HAProxy not running yet is started, which it logs itself.
    const starting = managed !== undefined && !managed.running;
    const started = performance.now();
    try {
      if (managed !== undefined) await managed.reload();
      else if (command.length > 0) await reload(command);
    } catch (error) {
      // A managed HAProxy's master kept its workers on the file they run:
      // that file goes back, so a restart starts what ran. (An external
      // reload command may have done part of its work: its file stays.)
      if (managed !== undefined && this.running !== null) {
        await writeAtomically(this.#options.apply.configFile, this.running);
      }
      throw error;
    }
    const seconds = (performance.now() - started) / 1000;
    this.ran(text, companions, model);
    this.#statesTrusted = true;
    this.lastReload = Date.now();
    // With no reload command whoever runs HAProxy reloads it: nothing to say.
    if (starting || (managed === undefined && command.length === 0)) return;
    this.#stats.reloads++;
    this.#telemetry.reloaded(seconds);
    log.info("Reloaded HAProxy: {reason}", { reason });
  }

  /** The binary may not use the admin socket: say so once and reload from now on. */
  #noPermission(): void {
    log.warn(
      "Not allowed to use HAProxy's admin socket {socket}; every change reloads (this binary may use {allowed})",
      { socket: this.#admin?.path ?? "", allowed: HAPROXY_SOCKETS[0] ?? "" },
    );
    this.#admin = null;
    this.#noRuntime = "not allowed to use the admin socket";
  }

  /**
   * Saves server states (health, drain, weights set at runtime) for the
   * next worker to load. After a runtime change that failed half-way they
   * are not trusted: the file alone then decides.
   */
  async #saveStates(): Promise<void> {
    const file = this.#options.stateFile;
    if (file === undefined) return;
    if (this.#admin !== null && this.#statesTrusted && this.running !== null) {
      try {
        await writeAtomically(file, await this.#admin.serversStateText());
        return;
      } catch (error) {
        if (error instanceof Deno.errors.NotCapable) this.#noPermission();
        else {
          log.warn(
            "Cannot save server states to {file}: {error}; the new worker starts from the configuration alone",
            { file, error: errorMessage(error) },
          );
        }
      }
    }
    await Deno.remove(file).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
  }
}
