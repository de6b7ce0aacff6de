/**
 * etcd access shared by the publisher (writes) and the etcd-fed balancer
 * (reads and watches).
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type {
  ChangeJournal,
  ContainerRecord,
  ContainerSource,
  UnreadableRecord,
} from "../docker/container.ts";
import { backoff, sleep } from "../util/sleep.ts";
import { normalizePrefix, parseContainerKey } from "./document.ts";
import { DocumentError, parseContainerDocument } from "./document_read.ts";
import { EtcdClient } from "./etcd_client.ts";
import { Latch } from "../util/latch.ts";
import { ContainerRecords } from "../docker/records.ts";
import type { WatchEvent } from "./etcd_wire.ts";
import { NO_TELEMETRY, type Telemetry } from "../metrics/telemetry.ts";
import { errorMessage } from "../util/error_message.ts";

const log = getLogger(["docker-glue", "etcd"]);

/**
 * How often a watching source checks that etcd still answers. A watch on a
 * connection whose peer vanished without closing it would otherwise wait
 * for events forever.
 */
const PROBE_INTERVAL_MS = 10_000;

/**
 * Every container published under a prefix, kept current by an etcd watch.
 * While etcd is unreachable the last known containers stay; after a
 * reconnect everything is read again.
 */
export class EtcdSource implements ContainerSource {
  readonly #client: EtcdClient;
  readonly #prefix: string;
  readonly #onChange: () => void;
  readonly #telemetry: Telemetry;
  /** By {@link recordKey}, which is the etcd key's host and container ids. */
  readonly #records = new ContainerRecords();
  readonly #loaded = new Latch();
  #closed = new AbortController();
  // Keys whose documents failed, while they exist: each is warned about once
  // per error, and listed by `routes`.
  #bad = new Map<string, UnreadableRecord>();
  #running: Promise<void> | null = null;

  /**
   * Creates the source over `client`, which it closes when it closes;
   * nothing is read until {@link EtcdSource.start}.
   */
  constructor(
    client: EtcdClient,
    prefix: string,
    onChange: () => void,
    telemetry: Telemetry = NO_TELEMETRY,
  ) {
    this.#client = client;
    this.#prefix = normalizePrefix(prefix);
    this.#onChange = onChange;
    this.#telemetry = telemetry;
  }

  /** Containers as last read, each with its host. */
  list(): ContainerRecord[] {
    return this.#records.list();
  }

  /** A journal of the containers that change: an update looks at those only. */
  follow(): ChangeJournal {
    return this.#records.follow();
  }

  /** The documents that failed their checks, by key. */
  unreadable(): UnreadableRecord[] {
    return [...this.#bad.values()];
  }

  /** Whether the containers have been read at least once. */
  get loaded(): boolean {
    return this.#loaded.isOpen;
  }

  /** Reads and watches in the background, retrying while etcd is unreachable. */
  start(): void {
    this.#running ??= this.#run();
  }

  /** Resolves true once loaded, or false after `ms`. */
  ready(ms: number): Promise<boolean> {
    return this.#loaded.wait(ms);
  }

  /** Stops watching. */
  async close(): Promise<void> {
    this.#closed.abort();
    this.#client.close();
    await this.#running;
  }

  async #run(): Promise<void> {
    const signal = this.#closed.signal;
    let attempt = 0;
    let lost = false;
    while (!signal.aborted) {
      try {
        const revision = await this.#load(lost);
        this.#telemetry.connected("etcd");
        lost = false;
        attempt = 0;
        await this.#watch(revision);
        if (signal.aborted) return;
        // Only a probe failure ends a watch quietly.
        throw new Error(`etcd at ${this.#client.endpoints} stopped answering`);
      } catch (error) {
        if (signal.aborted) return;
        this.#telemetry.etcdError();
        this.#telemetry.disconnected("etcd", errorMessage(error));
        const wait = backoff(attempt++, 250, 5000);
        if (!lost || attempt % 10 === 0) {
          log.warn(
            "{error}; keeping the last known {count} containers, retrying in {wait} ms",
            {
              error: errorMessage(error),
              count: this.#records.size,
              wait,
            },
          );
        }
        lost = true;
        await sleep(wait, signal);
      }
    }
  }

  /**
   * Watches from `revision` until the stream breaks (rejects) or a probe
   * finds etcd silent (resolves).
   */
  async #watch(revision: string): Promise<void> {
    // close() closes the client, which ends the watch; this only stops the
    // watch when the probe fails, and the probe when the watch ends.
    const stop = new AbortController();
    const probe = (async () => {
      while (!stop.signal.aborted) {
        await sleep(PROBE_INTERVAL_MS, stop.signal);
        if (stop.signal.aborted) return;
        try {
          await this.#client.status();
        } catch {
          stop.abort();
        }
      }
    })();
    try {
      await this.#client.watch(
        `${this.#prefix}/hosts/`,
        revision,
        (events) => this.#apply(events),
        stop.signal,
      );
    } finally {
      stop.abort();
      await probe;
    }
  }

  /** Reads every key afresh (deletes during a gap may be compacted away). */
  async #load(again: boolean): Promise<string> {
    const { kvs, revision } = await this.#client.range(
      `${this.#prefix}/hosts/`,
    );
    const next: ContainerRecord[] = [];
    const bad = this.#bad;
    this.#bad = new Map();
    for (const { key, value } of kvs) {
      const record = this.#parse(key, value, bad.get(key));
      if (record !== null) next.push(record);
    }
    this.#records.replace(next);
    const first = !this.#loaded.isOpen;
    if (first || again) {
      log.info("Read {count} containers from etcd at {endpoints}", {
        count: next.length,
        endpoints: this.#client.endpoints,
      });
    }
    this.#loaded.open();
    this.#onChange();
    return revision;
  }

  /**
   * The record of a container key's document, or null for another key or a
   * document that fails its checks (kept in #bad; `was` is its last failure,
   * so the same one is not warned about again).
   */
  #parse(
    key: string,
    value: string,
    was: UnreadableRecord | undefined = this.#bad.get(key),
  ): ContainerRecord | null {
    const where = parseContainerKey(this.#prefix, key);
    if (where === null) return null;
    try {
      return parseContainerDocument(where.hostId, where.id, value);
    } catch (error) {
      const bad: UnreadableRecord = {
        where: key,
        id: where.id,
        field: error instanceof DocumentError ? error.field : "",
        detail: errorMessage(error),
      };
      this.#bad.set(key, bad);
      if (was?.detail !== bad.detail) {
        log.warn("Not routed: etcd key {key}, {error}", {
          key,
          error: bad.detail,
        });
      }
      return null;
    }
  }

  #apply(events: readonly WatchEvent[]): void {
    let changed = false;
    for (const event of events) {
      this.#telemetry.event("etcd", event.type);
      const where = parseContainerKey(this.#prefix, event.key);
      const key = where === null ? null : `${where.hostId}/${where.id}`;
      if (event.type === "delete") {
        this.#bad.delete(event.key);
        changed = (key !== null && this.#records.delete(key)) || changed;
        continue;
      }
      const record = this.#parse(event.key, event.value);
      if (record !== null) {
        this.#bad.delete(event.key);
        this.#records.set(record);
        changed = true;
      } else {
        // A key that no longer parses must not keep its old route, and a
        // failed document is reported (routes, metrics) at once.
        changed = (key !== null && this.#records.delete(key)) ||
          this.#bad.has(event.key) || changed;
      }
    }
    if (changed) this.#onChange();
  }
}
