/**
 * Certificates by ACME for the hosts of routes labelled `tls`: requested
 * when a host appears, renewed when a third of the lifetime is left,
 * written into the certificate directory, from where they reach HAProxy
 * like any other certificate. HTTP-01 is answered by HAProxy; with a DNS
 * hook, wildcards (and, if asked, every name) are validated by DNS-01.
 * One request at a time; a name that failed waits out its back-off, also
 * across restarts.
 *
 * @module
 */

import { errorMessage } from "../util/error_message.ts";
import acme from "acme-client";
import https from "node:https";
import { getLogger } from "@logtape/logtape";
import type { CertDirectory } from "../tls/cert_dir.ts";
import { covers, inspectPem } from "../tls/pem.ts";
import { writeAtomically } from "../util/files.ts";
import { describe, systemRoots } from "./ca.ts";
import { permissionHint } from "../permissions.ts";
import { readState, writeState } from "./state_file.ts";
import { accountKey } from "./account.ts";
import { answers, DnsHook } from "./dns_hook.ts";
import type { ChallengeResponder } from "./challenges.ts";
import {
  type Backoff,
  backoffMs,
  certFileName,
  challengesFor,
  type ChallengeType,
  dueAt,
  type NameState,
  nextOrderAt,
  recentOrders,
  uncertifiable,
} from "./policy.ts";

const log = getLogger(["docker-glue", "acme"]);

/** ACME settings as the operator gives them. */
export interface AcmeSettings {
  /** The CA's directory URL (`--acme-directory`). */
  readonly directoryUrl: string;
  /** Contact address for the account (`--acme-email`). */
  readonly email: string;
  /** PEM file of CA certificates to trust for the directory's TLS (`--acme-ca-file`). */
  readonly caFile?: string | undefined;
  /** Waits after failures (`--acme-backoff`). */
  readonly backoff: Backoff;
  /** Most new orders in any hour, across all names (`--acme-orders-per-hour`). */
  readonly ordersPerHour: number;
  /** The DNS-01 hook program (`--acme-dns-hook`), an absolute path. */
  readonly dnsHook?: string | undefined;
  /** The challenge of names that are not wildcards (`--acme-challenge`); HTTP-01 by default. */
  readonly challenge?: ChallengeType;
}

/** How long one request to the CA may take. */
const REQUEST_TIMEOUT_MS = 30_000;

/** The longest a timer waits, so a clock change is noticed within an hour. */
const MAX_TIMER_MS = 3_600_000;

/** Gets and renews certificates for the wanted hosts. */
export class AcmeManager {
  readonly #settings: AcmeSettings;
  readonly #certs: CertDirectory;
  readonly #responder: ChallengeResponder;
  readonly #onIssued: () => void;
  readonly #stateFile: string;
  readonly #hook: DnsHook | null;
  #wanted = new Set<string>();
  #skipped = new Set<string>();
  #states = new Map<string, NameState>();
  /** When the orders of the last hour were placed (ms since the epoch). */
  #orders: number[] = [];
  /** Whether the hourly limit was reported since orders last had room. */
  #limited = false;
  #client: acme.Client | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #closed = false;
  #loaded = false;
  /**
   * Aborted by {@link AcmeManager.close}: an order in flight ends at once,
   * so a stop never waits for the CA (30 s a request) or a challenge.
   */
  readonly #abort = new AbortController();

  /**
   * `onIssued` runs after a certificate was written, so the engine serves
   * it without waiting for the directory watcher.
   */
  constructor(
    settings: AcmeSettings,
    certs: CertDirectory,
    responder: ChallengeResponder,
    onIssued: () => void,
  ) {
    this.#settings = settings;
    this.#certs = certs;
    this.#responder = responder;
    this.#onIssued = onIssued;
    this.#stateFile = `${certs.dir}/.acme/state.json`;
    this.#hook = settings.dnsHook ? new DnsHook(settings.dnsHook) : null;
  }

  /** The hosts of routes labelled `tls`, after every change of the route table. */
  want(hosts: Iterable<string>): void {
    const next = new Set<string>();
    const skipped = new Set<string>();
    for (const host of hosts) {
      const reason = uncertifiable(host, this.#hook !== null);
      if (reason === null) {
        next.add(host);
      } else if (host !== "") {
        skipped.add(host);
        if (this.#skipped.has(host)) continue;
        log.warn(
          "ACME: no certificate for {host}: {reason}; served with the certificate that matches, else the default one",
          { host, reason },
        );
      }
    }
    // What is known of names no longer served goes with them, so hosts
    // that come and go (a label loop, an etcd writer) cost no memory; the
    // hourly limit bounds their orders.
    this.#skipped = skipped;
    for (const host of this.#states.keys()) {
      if (!next.has(host)) this.#states.delete(host);
    }
    const added = [...next].some((host) => !this.#wanted.has(host));
    this.#wanted = next;
    if (added) this.#wake();
  }

  /** Stops requesting; an order under way is finished first. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#abort.abort();
    await this.#running;
  }

  #wake(): void {
    if (this.#closed) return;
    if (this.#running !== undefined) {
      this.#again = true;
      return;
    }
    clearTimeout(this.#timer);
    this.#running = this.#run().catch((error) => {
      log.error("ACME: {error}", { error: errorMessage(error) });
    }).finally(() => {
      this.#running = undefined;
      if (this.#again) {
        this.#again = false;
        this.#wake();
      } else this.#arm();
    });
  }

  /** Sets the timer for the next name due, or for room under the hourly limit. */
  #arm(): void {
    if (this.#closed) return;
    const now = Date.now();
    let next = Infinity;
    for (const host of this.#wanted) next = Math.min(next, this.#dueAt(host));
    if (next === Infinity) return;
    next = Math.max(next, this.#nextOrderAt(now));
    clearTimeout(this.#timer);
    this.#timer = setTimeout(
      () => this.#wake(),
      Math.min(Math.max(next - now, 0), MAX_TIMER_MS),
    );
  }

  #current(host: string) {
    let best: { notBefore: Date; notAfter: Date } | undefined;
    for (const cert of this.#certs.certs) {
      if (!covers(cert.info.names, host)) continue;
      if (best === undefined || cert.info.notAfter > best.notAfter) {
        best = cert.info;
      }
    }
    return best;
  }

  #dueAt(host: string): number {
    return dueAt(this.#current(host), this.#states.get(host));
  }

  #nextOrderAt(now: number): number {
    return nextOrderAt(this.#orders, this.#settings.ordersPerHour, now);
  }

  async #run(): Promise<void> {
    await this.#loadState();
    for (const host of [...this.#wanted].sort()) {
      if (this.#closed) return;
      const now = Date.now();
      if (!this.#wanted.has(host) || this.#dueAt(host) > now) continue;
      const room = this.#nextOrderAt(now);
      if (room > now) {
        if (!this.#limited) {
          log.warn(
            "ACME: {limit} new orders in the last hour, the limit (--acme-orders-per-hour); {host} and the names after it wait until {at}",
            {
              limit: this.#settings.ordersPerHour,
              host,
              at: new Date(room).toISOString(),
            },
          );
        }
        this.#limited = true;
        return;
      }
      this.#limited = false;
      // A failed order counts too: the CA counts it.
      this.#orders = [...recentOrders(this.#orders, now), now];
      await this.#request(host);
    }
  }

  async #request(host: string): Promise<void> {
    const current = this.#current(host);
    const challenges = challengesFor(
      host,
      this.#settings.challenge ?? "http-01",
      this.#hook !== null,
    );
    log.info(
      "ACME: requesting a certificate for {host} by {challenge} ({why})",
      {
        host,
        challenge: challenges[0],
        why: current === undefined
          ? "none yet"
          : `renewal; the current one expires ${current.notAfter.toISOString()}`,
      },
    );
    const started = performance.now();
    try {
      const { chain, key } = await this.#order(host, challenges);
      const pem = `${chain.trim()}\n${String(key).trim()}\n`;
      const info = inspectPem(pem, new Date());
      const file = `${this.#certs.dir}/${certFileName(host)}`;
      await writeAtomically(file, pem, 0o600);
      // Spaced by the base back-off even after a success, so a certificate
      // that cannot be loaded never makes a request loop.
      this.#states.set(host, {
        failures: 0,
        notBefore: Date.now() + this.#settings.backoff.baseMs,
      });
      await this.#saveState();
      log.info(
        "ACME: {what} for {host}, valid until {until}, in {ms} ms; written to {file}",
        {
          what: current === undefined
            ? "issued a certificate"
            : "renewed the certificate",
          host,
          until: info.notAfter.toISOString(),
          ms: Math.round(performance.now() - started),
          file,
        },
      );
      await this.#certs.scan();
      this.#onIssued();
    } catch (error) {
      if (this.#closed) {
        // Not the CA's failure: no back-off, asked again at the next start.
        log.info("ACME: stopped the request for {host}: shutting down", {
          host,
        });
        return;
      }
      const failures = (this.#states.get(host)?.failures ?? 0) + 1;
      const wait = backoffMs(failures, this.#settings.backoff);
      // A hook the binary may not run: say how to build one that may.
      const reason = error instanceof Deno.errors.NotCapable
        ? permissionHint(error)
        : describe(error);
      this.#states.set(host, {
        failures,
        notBefore: Date.now() + wait,
        lastError: reason,
      });
      await this.#saveState().catch(() => {});
      log.error(
        "ACME: certificate for {host} failed ({failures} in a row): {reason}; next try in {wait} s",
        { host, failures, reason, wait: Math.round(wait / 1000) },
      );
    }
  }

  /** One order for `host`'s certificate: its chain and private key. */
  async #order(
    host: string,
    challenges: ReturnType<typeof challengesFor>,
  ): Promise<{ chain: string; key: string }> {
    const client = await this.#clientFor();
    const [key, csr] = await acme.crypto.createCsr(
      { altNames: [host] },
      await acme.crypto.createPrivateEcdsaKey(),
    );
    const chain = await client.auto({
      csr,
      email: this.#settings.email,
      termsOfServiceAgreed: true,
      challengePriority: challenges,
      // HAProxy's map is checked instead, or the hook vouches for the
      // record: a request to our own public name from this host proves
      // little, and a DNS lookup here may not see what the CA sees.
      skipChallengeVerification: true,
      ...answers(this.#hook, this.#responder, this.#abort.signal),
    });
    return { chain, key: String(key) };
  }

  async #clientFor(): Promise<acme.Client> {
    if (this.#client !== undefined) return this.#client;
    const { caFile, directoryUrl } = this.#settings;
    // acme-client's interceptors retry a failed request up to five times
    // over 75 s before anything is reported, and then lose the network
    // error's reason. Our back-off is the one policy: without them a
    // failure is reported at once with its cause, and the name waits its
    // turn. (Its requests take every status; it checks them itself.)
    acme.axios.interceptors.request.clear();
    acme.axios.interceptors.response.clear();
    const defaults = acme.axios.defaults;
    // A request that hangs counts as failed; one in flight at a stop ends.
    defaults.timeout = REQUEST_TIMEOUT_MS;
    defaults.signal = this.#abort.signal;
    // acme-client sends every request through its own axios instance.
    acme.axios.defaults.httpsAgent = new https.Agent({
      ca: caFile !== undefined && caFile !== ""
        ? await Deno.readTextFile(caFile)
        : await systemRoots(),
    });
    this.#client = new acme.Client({
      directoryUrl,
      accountKey: await this.#accountKey(),
    });
    return this.#client;
  }

  /** The account key for this CA; a damaged one is replaced, with a warning. */
  async #accountKey(): Promise<string> {
    const account = await accountKey(
      this.#certs.dir,
      this.#settings.directoryUrl,
    );
    if (account.replaced !== null) {
      log.warn(
        "ACME: the account key {file} is not a private key ({error}); making a new account",
        {
          file: account.file,
          error: describe(account.replaced.error),
        },
      );
    }
    return account.key;
  }

  async #loadState(): Promise<void> {
    if (this.#loaded) return;
    this.#loaded = true;
    try {
      const saved = await readState(this.#stateFile);
      for (const [host, state] of saved?.names ?? []) {
        this.#states.set(host, state);
      }
      this.#orders = recentOrders(saved?.orders ?? [], Date.now());
    } catch (error) {
      log.warn("ACME: ignoring {file}, replaced at the next save: {error}", {
        file: this.#stateFile,
        error: errorMessage(error),
      });
    }
  }

  async #saveState(): Promise<void> {
    await writeState(
      this.#stateFile,
      this.#states,
      recentOrders(this.#orders, Date.now()),
    );
  }
}
