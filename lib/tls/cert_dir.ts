/**
 * The certificate directory (`--tls-cert-dir`): PEM bundles the operator or
 * the ACME client puts there, checked, and watched so that a certificate
 * added, renewed or removed reaches HAProxy within a second.
 *
 * @module
 */

import { errorMessage } from "../util/error_message.ts";
import { getLogger } from "@logtape/logtape";
import { type CertInfo, inspectPem } from "./pem.ts";

const log = getLogger(["docker-glue", "tls"]);

/** The bundle served when no other matches the SNI name, if the operator gives one. */
export const DEFAULT_CERT_FILE = "default.pem";

/** How often the directory is read again without a change event: expiry, missed events. */
const RESCAN_MS = 30_000;
/** Events of one copy or rename come in bursts; read the directory once they settle. */
const SETTLE_MS = 50;

/** A certificate from the directory. */
export interface LoadedCert {
  /** File name in the directory. */
  readonly file: string;
  /** What it holds. */
  readonly info: CertInfo;
}

/** Reads and watches a certificate directory. */
export class CertDirectory {
  /** The directory. */
  readonly dir: string;
  readonly #onChange: () => void;
  readonly #now: () => Date;
  #certs = new Map<string, LoadedCert>();
  /** Problems reported, by file, so each is said once while it lasts. */
  #problems = new Map<string, string>();
  #watcher: Deno.FsWatcher | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #settle: ReturnType<typeof setTimeout> | undefined;
  #scanning: Promise<void> = Promise.resolve();
  #closed = false;

  /** `onChange` runs after a scan that changed the certificates served. */
  constructor(dir: string, onChange: () => void, now = () => new Date()) {
    this.dir = dir.replace(/\/+$/, "");
    this.#onChange = onChange;
    this.#now = now;
  }

  /** The certificates to serve by SNI, by file name; the default one is not among them. */
  get certs(): readonly LoadedCert[] {
    return [...this.#certs.values()].filter((cert) =>
      cert.file !== DEFAULT_CERT_FILE
    );
  }

  /** The operator's default certificate, if the directory has a good one. */
  get defaultCert(): LoadedCert | undefined {
    return this.#certs.get(DEFAULT_CERT_FILE);
  }

  /**
   * Reads the directory again. A file that cannot be served is said once
   * in one line naming it; one that was good and turned bad (a copy half
   * done, a key that no longer matches) keeps its last good version until
   * that expires.
   *
   * @returns whether the certificates served changed.
   */
  scan(): Promise<boolean> {
    const run = this.#scanning.then(() => this.#scan());
    this.#scanning = run.then(() => {}, () => {});
    return run;
  }

  async #scan(): Promise<boolean> {
    const now = this.#now();
    const next = new Map<string, LoadedCert>();
    const problems = new Map<string, string>();
    const names: string[] = [];
    for await (const entry of Deno.readDir(this.dir)) {
      if (entry.name.startsWith(".") || !entry.name.endsWith(".pem")) continue;
      if (!entry.isFile && !entry.isSymlink) continue;
      names.push(entry.name);
    }
    for (const file of names.sort()) {
      const path = `${this.dir}/${file}`;
      const before = this.#certs.get(file);
      try {
        const info = inspectPem(await Deno.readTextFile(path), now);
        next.set(file, { file, info });
      } catch (error) {
        const reason = error instanceof Deno.errors.PermissionDenied
          ? "cannot be read (permission denied)"
          : errorMessage(error);
        const kept = before !== undefined && before.info.notAfter > now;
        if (kept) next.set(file, before);
        problems.set(file, reason);
        if (this.#problems.get(file) !== reason) {
          log.warn("Certificate {file}: {reason}; {outcome}", {
            file: path,
            reason,
            outcome: kept
              ? `still serving its previous version (expires ${before.info.notAfter.toISOString()})`
              : "not served",
          });
        }
      }
    }
    for (const file of this.#problems.keys()) {
      if (!problems.has(file) && next.has(file)) {
        log.info("Certificate {file}: readable again", {
          file: `${this.dir}/${file}`,
        });
      }
    }
    this.#problems = problems;
    const changed = !sameCerts(this.#certs, next);
    this.#certs = next;
    return changed;
  }

  /**
   * Watches the directory and reads it again on every change, and every
   * 30 s in any case (a certificate expiring changes nothing on disk).
   */
  watch(): void {
    if (this.#watcher !== undefined || this.#closed) return;
    try {
      this.#watcher = Deno.watchFs(this.dir, { recursive: false });
    } catch (error) {
      if (error instanceof Deno.errors.NotCapable) throw error;
      log.warn(
        "Cannot watch {dir} ({error}); certificate changes are seen within 30 s",
        { dir: this.dir, error: errorMessage(error) },
      );
    }
    const watcher = this.#watcher;
    if (watcher !== undefined) {
      (async () => {
        for await (const _event of watcher) this.#soon();
      })().catch((error) => {
        if (!this.#closed) {
          log.warn("Stopped watching {dir}: {error}", {
            dir: this.dir,
            error: errorMessage(error),
          });
        }
      });
    }
    this.#later();
  }

  /** Reads the directory once a burst of change events has settled. */
  #soon(): void {
    if (this.#closed) return;
    clearTimeout(this.#settle);
    this.#settle = setTimeout(() => this.#rescan(), SETTLE_MS);
  }

  /** Reads the directory again in {@link RESCAN_MS}, and so on until closed. */
  #later(): void {
    if (this.#closed) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(
      () => this.#rescan().finally(() => this.#later()),
      RESCAN_MS,
    );
  }

  async #rescan(): Promise<void> {
    try {
      if (await this.scan() && !this.#closed) this.#onChange();
    } catch (error) {
      log.warn("Cannot read certificate directory {dir}: {error}", {
        dir: this.dir,
        error: errorMessage(error),
      });
    }
  }

  /** Stops watching. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#settle);
    try {
      this.#watcher?.close();
    } catch {
      // already closed
    }
    await this.#scanning;
  }
}

function sameCerts(
  a: ReadonlyMap<string, LoadedCert>,
  b: ReadonlyMap<string, LoadedCert>,
): boolean {
  if (a.size !== b.size) return false;
  for (const [file, cert] of a) {
    if (b.get(file)?.info.fingerprint !== cert.info.fingerprint) return false;
  }
  return true;
}
