/**
 * The effects that change HAProxy, as the loop (loop.ts) asks for them:
 * runtime operations on the admin socket, installing the file with its
 * maps and certificates (`haproxy -c`, then an atomic write), saving
 * server states and reloading. Each takes what to do and returns what
 * happened; none keeps a copy of what HAProxy runs, decides or logs.
 *
 * @module
 */

import { applyConfig, keepForeignConfig, reload } from "./apply.ts";
import {
  dirname,
  removeStaleTemps,
  writeAtomically,
} from "../../util/files.ts";
import type { RuntimeOp } from "../plan/plan_types.ts";
import { AdminSocket, type RuntimeApi } from "./runtime.ts";
import {
  CertWriter,
  companionFiles,
  type Companions,
  expectationOf,
} from "../model/companions.ts";
import { applyOps } from "../plan/runtime_ops.ts";
import type { BalancerOptions } from "../options.ts";
import type { ApplyOutcome } from "./apply.ts";
import { errorMessage } from "../../util/error_message.ts";

/** What sending runtime operations came to. */
export type SendResult =
  | { readonly ok: true }
  /** Failed, maybe half-way; `refused`: this binary may not use the socket. */
  | { readonly ok: false; readonly error: string; readonly refused: boolean };

/** What a reload came to (a failure throws). */
export interface Reloaded {
  /** A managed HAProxy was started, not reloaded, or nobody reloads it. */
  readonly silent: boolean;
  readonly seconds: number;
  /** Why server states were not saved, when they should have been. */
  readonly statesNotSaved: string | null;
  /** The admin socket refused this binary while saving states. */
  readonly refused: boolean;
}

/** What the first look at the configuration's directories found. */
export interface Cleanup {
  /** Temporary files left by a run that stopped while writing, removed. */
  readonly removed: readonly string[];
  /** Directories that could not be looked at, and why. */
  readonly unreadable: readonly { dir: string; error: string }[];
  /** Where a file docker-balancer did not write was kept, if there was one. */
  readonly kept: string | null;
}

/** The admin socket, the files and the reload of one HAProxy. */
export class HAProxyEffects {
  readonly #options: BalancerOptions;
  readonly #certs: CertWriter;
  readonly #admin: RuntimeApi | null;

  constructor(options: BalancerOptions) {
    this.#options = options;
    this.#certs = new CertWriter(options.tls);
    this.#admin = options.adminSocket
      ? options.runtimeApi ?? new AdminSocket(options.adminSocket)
      : null;
  }

  /** Sends runtime operations, the certificates they name written first. */
  async send(
    ops: readonly RuntimeOp[],
    companions: Companions,
  ): Promise<SendResult> {
    const admin = this.#admin;
    if (admin === null) {
      return { ok: false, error: "no admin socket", refused: false };
    }
    try {
      // New certificates are on disk before HAProxy is told of them.
      await this.#certs.write(companions);
      await applyOps(admin, ops, expectationOf(companions, this.#options.tls));
      return { ok: true };
    } catch (error) {
      return {
        ok: false,
        error: errorMessage(error),
        refused: error instanceof Deno.errors.NotCapable,
      };
    }
  }

  /**
   * Removes the temporary files a run that died left beside the
   * configuration and the certificates (private keys among them), and
   * keeps a file at the configuration's path that docker-balancer did not
   * write, before it is replaced.
   */
  async cleanUp(): Promise<Cleanup> {
    const file = this.#options.apply.configFile;
    const tls = this.#options.tls;
    const dirs = [dirname(file)];
    if (tls !== undefined) {
      dirs.push(tls.liveDir, tls.source.dir, `${tls.source.dir}/.acme`);
    }
    const removed: string[] = [];
    const unreadable: { dir: string; error: string }[] = [];
    for (const dir of dirs) {
      try {
        removed.push(...await removeStaleTemps(dir));
      } catch (error) {
        unreadable.push({ dir, error: errorMessage(error) });
      }
    }
    return { removed, unreadable, kept: await keepForeignConfig(file) };
  }

  /**
   * Validates and installs `text`, with its certificate files, maps and
   * crt-list before it; reloads nothing.
   *
   * @throws {ConfigRejectedError} when `haproxy -c` rejects it.
   */
  async install(text: string, companions: Companions): Promise<ApplyOutcome> {
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
    await this.#certs.prune(companions);
    return outcome;
  }

  /** The next install writes every certificate file again (a reload reads them all). */
  forgetCerts(): void {
    this.#certs.forget();
  }

  /**
   * Reloads HAProxy (the file installed first). Server states are saved
   * first when `saveStates`, else the state file is removed. When a
   * managed HAProxy will not take the file, `restore` (the file it runs)
   * goes back.
   */
  async reload(saveStates: boolean, restore: string | null): Promise<Reloaded> {
    const states = await this.#saveStates(saveStates);
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
      if (managed !== undefined && restore !== null) {
        await writeAtomically(this.#options.apply.configFile, restore);
      }
      throw error;
    }
    return {
      // With no reload command whoever runs HAProxy reloads it.
      silent: starting || (managed === undefined && command.length === 0),
      seconds: (performance.now() - started) / 1000,
      ...states,
    };
  }

  /**
   * Saves server states (health, drain, weights set at runtime) for the
   * next worker to load, or removes the file so the configuration alone
   * decides.
   */
  async #saveStates(
    save: boolean,
  ): Promise<{ statesNotSaved: string | null; refused: boolean }> {
    const file = this.#options.stateFile;
    const result = { statesNotSaved: null as string | null, refused: false };
    if (file === undefined) return result;
    if (save && this.#admin !== null) {
      try {
        await writeAtomically(file, await this.#admin.serversStateText());
        return result;
      } catch (error) {
        if (error instanceof Deno.errors.NotCapable) result.refused = true;
        else result.statesNotSaved = errorMessage(error);
      }
    }
    await Deno.remove(file).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
    return result;
  }
}
