/**
 * etcd access shared by the publisher (writes) and the etcd-fed balancer
 * (reads and watches).
 *
 * @module
 */

import { Etcd3, type Watcher } from "etcd3";
import { getLogger } from "@logtape/logtape";
import type { ContainerRecord } from "../docker/container.ts";
import { backoff, sleep } from "../util/sleep.ts";
import {
  normalizePrefix,
  parseContainerDocument,
  parseContainerKey,
} from "./document.ts";

export {
  DEFAULT_ETCD_ENDPOINTS,
  DEFAULT_ETCD_PREFIX,
  parseEndpoints,
} from "./endpoints.ts";

const log = getLogger(["docker-glue", "etcd"]);

/** etcd client type, re-exported so other modules need not import etcd3. */
export type EtcdClient = Etcd3;

/** Creates a client; it connects on first use. */
export function connectEtcd(endpoints: readonly string[]): EtcdClient {
  return new Etcd3(
    {
      hosts: [...endpoints],
      dialTimeout: 3000,
      // We retry ourselves, with our own back-off and logging.
      faultHandling: { global: undefined as never },
    } as ConstructorParameters<typeof Etcd3>[0],
  );
}

/** Runs `work`, failing with a clear message after `ms`. */
export async function withTimeout<T>(
  what: string,
  ms: number,
  work: PromiseLike<T>,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      Promise.resolve(work),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${what} took longer than ${ms / 1000} s`)),
          ms,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Every container published under a prefix, kept current by an etcd watch.
 * While etcd is unreachable the last known containers stay; after a
 * reconnect everything is read again.
 */
export class EtcdSource {
  readonly #client: EtcdClient;
  readonly #prefix: string;
  readonly #endpoints: string;
  readonly #onChange: () => void;
  #records = new Map<string, ContainerRecord>();
  #loaded = false;
  #waiters: (() => void)[] = [];
  #watcher: Watcher | null = null;
  #closed = new AbortController();
  #reported = new Set<string>();

  /** Creates the source; nothing is read until {@link EtcdSource.start}. */
  constructor(
    endpoints: readonly string[],
    prefix: string,
    onChange: () => void,
  ) {
    this.#client = connectEtcd(endpoints);
    this.#endpoints = endpoints.join(",");
    this.#prefix = normalizePrefix(prefix);
    this.#onChange = onChange;
  }

  /** Containers as last read, each with its host. */
  list(): ContainerRecord[] {
    return [...this.#records.values()];
  }

  /** Whether the containers have been read at least once. */
  get loaded(): boolean {
    return this.#loaded;
  }

  /** Reads and watches in the background, retrying while etcd is unreachable. */
  start(): void {
    void this.#run();
  }

  /** Resolves true once loaded, or false after `ms`. */
  ready(ms: number): Promise<boolean> {
    if (this.#loaded) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      this.#waiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /** Stops watching and closes the client. */
  async close(): Promise<void> {
    this.#closed.abort();
    await this.#watcher?.cancel().catch(() => {});
    this.#client.close();
  }

  async #run(): Promise<void> {
    const signal = this.#closed.signal;
    for (let attempt = 0; !signal.aborted; attempt++) {
      try {
        await this.#load();
        this.#watcher = await withTimeout(
          "starting the etcd watch",
          10_000,
          this.#client.watch().prefix(`${this.#prefix}/hosts/`).create(),
        );
        this.#watcher
          .on("put", (kv) => this.#put(kv.key.toString(), kv.value.toString()))
          .on("delete", (kv) => this.#delete(kv.key.toString()))
          .on(
            "disconnected",
            () =>
              log.warn(
                "Lost the etcd watch at {endpoints}; keeping the last known containers",
                {
                  endpoints: this.#endpoints,
                },
              ),
          )
          .on("connected", () => {
            // Re-read everything: deletes during the gap may be compacted away.
            this.#load().catch((error) =>
              log.warn("Cannot re-read etcd at {endpoints}: {error}", {
                endpoints: this.#endpoints,
                error: describe(error),
              })
            );
          })
          .on(
            "error",
            (error) =>
              log.warn("etcd watch error: {error}", { error: describe(error) }),
          );
        return;
      } catch (error) {
        if (signal.aborted) return;
        const wait = backoff(attempt, 250, 5000);
        log.warn(
          "Cannot read etcd at {endpoints}: {error}; retrying in {wait} ms",
          {
            endpoints: this.#endpoints,
            error: describe(error),
            wait,
          },
        );
        await sleep(wait, signal);
      }
    }
  }

  async #load(): Promise<void> {
    const all = await withTimeout(
      `reading ${this.#prefix}/hosts/ from etcd`,
      10_000,
      this.#client.getAll().prefix(`${this.#prefix}/hosts/`).strings(),
    );
    const next = new Map<string, ContainerRecord>();
    for (const [key, value] of Object.entries(all)) {
      const record = this.#parse(key, value);
      if (record !== null) next.set(key, record);
    }
    this.#records = next;
    const first = !this.#loaded;
    this.#loaded = true;
    if (first) {
      log.info("Read {count} containers from etcd at {endpoints}", {
        count: next.size,
        endpoints: this.#endpoints,
      });
      for (const wake of this.#waiters.splice(0)) wake();
    }
    this.#onChange();
  }

  #parse(key: string, value: string): ContainerRecord | null {
    const where = parseContainerKey(this.#prefix, key);
    if (where === null) return null;
    try {
      return parseContainerDocument(where.hostId, where.id, value);
    } catch (error) {
      const note = `${key}\n${describe(error)}`;
      if (!this.#reported.has(note)) {
        this.#reported.add(note);
        log.warn("Ignored etcd key {key}: {error}", {
          key,
          error: describe(error),
        });
      }
      return null;
    }
  }

  #put(key: string, value: string): void {
    const record = this.#parse(key, value);
    if (record === null) return;
    this.#records.set(key, record);
    this.#onChange();
  }

  #delete(key: string): void {
    if (this.#records.delete(key)) this.#onChange();
  }
}
