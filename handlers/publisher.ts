/**
 * The publisher: keeps this host's running containers in etcd, one key per
 * container, all on one lease, so consumers on other hosts (docker-balancer
 * with `--source etcd`) see them and a dead host's containers expire.
 *
 * INI params: `endpoints` (comma list, default http://127.0.0.1:2379),
 * `prefix` (default /docker-glue), `ttl` (seconds, default 30), `host-id`
 * (default: the Docker engine's name), `advertise-address` (required: the
 * address other hosts reach this host's published ports on), `filter-label`
 * (optional `key` or `key=value`: publish only containers with that label).
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { Lease } from "etcd3";
import { BaseHandler } from "../lib/agent/base_handler.ts";
import type { ContainerRecord } from "../lib/docker/container.ts";
import {
  agentKey,
  checkHostId,
  containerDocument,
  containerKey,
  DOCUMENT_VERSION,
  hostContainersPrefix,
  normalizePrefix,
} from "../lib/discovery/document.ts";
import {
  connectEtcd,
  DEFAULT_ETCD_ENDPOINTS,
  DEFAULT_ETCD_PREFIX,
  type EtcdClient,
  parseEndpoints,
  withTimeout,
} from "../lib/discovery/etcd.ts";
import { backoff, sleep } from "../lib/util/sleep.ts";
import { VERSION } from "../lib/version.ts";

const log = getLogger(["docker-glue", "publisher"]);

/** Default lease TTL in seconds. */
export const DEFAULT_TTL_S = 30;
/** How long one etcd call may take before the sync is retried. */
const CALL_TIMEOUT_MS = 5000;

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Publishes running containers to etcd. */
export class Publisher extends BaseHandler {
  #client: EtcdClient | null = null;
  #endpoints: string[] = [];
  #prefix = DEFAULT_ETCD_PREFIX;
  #ttl = DEFAULT_TTL_S;
  #hostId = "";
  #advertise = "";
  #filter: { key: string; value: string | undefined } | null = null;
  #lease: Lease | null = null;
  /** What etcd holds for this host, by container id (JSON text). */
  #published = new Map<string, string>();
  #needFull = true;
  #closed = new AbortController();
  #wake: (() => void) | null = null;
  #dirty = false;
  #loop: Promise<void> | null = null;

  /** Reads the params and works out the host id; connects lazily. */
  override async init(): Promise<void> {
    this.#endpoints = parseEndpoints(
      this.param("endpoints", DEFAULT_ETCD_ENDPOINTS),
    );
    this.#prefix = normalizePrefix(this.param("prefix", DEFAULT_ETCD_PREFIX));
    const ttl = this.param("ttl", String(DEFAULT_TTL_S));
    if (!/^[0-9]+$/.test(ttl) || Number(ttl) < 2) {
      throw new TypeError(
        `[params] ttl: expected whole seconds, at least 2, got ${
          JSON.stringify(ttl)
        }`,
      );
    }
    this.#ttl = Number(ttl);
    this.#advertise = this.param("advertise-address", "").trim();
    if (this.#advertise === "") {
      throw new TypeError(
        "[params] advertise-address is required: the address other hosts reach this host's published ports on",
      );
    }
    const filter = this.param("filter-label");
    if (filter !== undefined && filter.trim() !== "") {
      const eq = filter.indexOf("=");
      this.#filter = eq < 0 ? { key: filter.trim(), value: undefined } : {
        key: filter.slice(0, eq).trim(),
        value: filter.slice(eq + 1).trim(),
      };
    }
    const hostId = this.param("host-id");
    if (hostId !== undefined && hostId.trim() !== "") {
      this.#hostId = checkHostId(hostId.trim());
    } else {
      let name: string;
      try {
        name = String((await this.agent.docker.info()).Name ?? "");
      } catch (error) {
        throw new TypeError(
          `cannot ask Docker for its name to use as host-id (${
            describe(error)
          }); set [params] host-id`,
        );
      }
      this.#hostId = checkHostId(name);
    }
    this.#client = connectEtcd(this.#endpoints);
  }

  /** The host id keys are published under. */
  get hostId(): string {
    return this.#hostId;
  }

  /**
   * Notes that something changed; the background sync publishes it. Never
   * waits for etcd. The sync starts with the first event (the start-up
   * `none`, after the agent has listed the containers).
   */
  handle(): Promise<void> {
    this.#loop ??= this.#run();
    this.#kick();
    return Promise.resolve();
  }

  /**
   * Stops syncing. The lease is not revoked: a restarted agent takes its keys
   * over, and a host that stays down expires after the TTL.
   */
  override async close(): Promise<void> {
    this.#closed.abort();
    this.#kick();
    await this.#loop;
    this.#lease?.release();
    this.#client?.close();
  }

  #kick(): void {
    this.#dirty = true;
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  #wanted(record: ContainerRecord): boolean {
    if (this.#filter === null) return true;
    const value = record.labels[this.#filter.key];
    return value !== undefined &&
      (this.#filter.value === undefined || value === this.#filter.value);
  }

  async #run(): Promise<void> {
    const signal = this.#closed.signal;
    let attempt = 0;
    let failing = false;
    while (!signal.aborted) {
      if (!this.#dirty && !this.#needFull) {
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
          signal.addEventListener("abort", () => resolve(), { once: true });
        });
        if (signal.aborted) break;
      }
      this.#dirty = false;
      try {
        await this.#sync();
        if (failing) {
          log.info("etcd at {endpoints} is reachable again; resynced", {
            endpoints: this.#endpoints.join(","),
          });
        }
        failing = false;
        attempt = 0;
      } catch (error) {
        if (signal.aborted) break;
        this.#needFull = true;
        const wait = backoff(attempt++, 250, 5000);
        if (!failing || attempt % 10 === 0) {
          log.warn(
            "Cannot publish to etcd at {endpoints}: {error}; retrying in {wait} ms",
            {
              endpoints: this.#endpoints.join(","),
              error: describe(error),
              wait,
            },
          );
        }
        failing = true;
        await sleep(wait, signal);
      }
    }
  }

  async #grant(client: EtcdClient): Promise<Lease> {
    const lease = client.lease(this.#ttl);
    lease.on("lost", (error) => {
      if (this.#lease !== lease) return;
      log.warn("etcd lease lost ({error}); publishing again with a new one", {
        error: describe(error),
      });
      this.#lease = null;
      this.#needFull = true;
      this.#kick();
    });
    await withTimeout("granting an etcd lease", CALL_TIMEOUT_MS, lease.grant());
    return lease;
  }

  async #sync(): Promise<void> {
    const client = this.#client;
    if (client === null) return;
    const desired = new Map<
      string,
      { record: ContainerRecord; text: string }
    >();
    for (const record of this.agent.inventory.list()) {
      if (!this.#wanted(record)) continue;
      desired.set(record.id, {
        record,
        text: JSON.stringify(
          containerDocument(record, this.#hostId, this.#advertise),
        ),
      });
    }
    if (this.#lease === null) {
      this.#lease = await this.#grant(client);
      this.#needFull = true;
    }
    const lease = this.#lease;
    const call = <T>(what: string, work: PromiseLike<T>) =>
      withTimeout(what, CALL_TIMEOUT_MS, work);
    if (this.#needFull) {
      const existing = await call(
        "listing this host's keys",
        client.getAll().prefix(hostContainersPrefix(this.#prefix, this.#hostId))
          .keys(),
      );
      await call(
        "publishing the agent key",
        lease.put(agentKey(this.#prefix, this.#hostId)).value(JSON.stringify({
          version: DOCUMENT_VERSION,
          hostId: this.#hostId,
          advertiseAddress: this.#advertise,
          agentVersion: VERSION,
          since: new Date().toISOString(),
        })),
      );
      for (const { record, text } of desired.values()) {
        await call(
          "publishing a container",
          lease.put(containerKey(this.#prefix, this.#hostId, record.id)).value(
            text,
          ),
        );
      }
      const wanted = new Set(
        [...desired.keys()].map((id) =>
          containerKey(this.#prefix, this.#hostId, id)
        ),
      );
      let stale = 0;
      for (const key of existing) {
        if (wanted.has(key)) continue;
        await call("deleting a stale key", client.delete().key(key));
        stale++;
      }
      this.#published = new Map([...desired].map(([id, d]) => [id, d.text]));
      this.#needFull = false;
      log.info(
        "Published {count} containers of host {host} to etcd ({stale} stale keys removed)",
        {
          count: desired.size,
          host: this.#hostId,
          stale,
        },
      );
      return;
    }
    for (const [id, { record, text }] of desired) {
      if (this.#published.get(id) === text) continue;
      await call(
        "publishing a container",
        lease.put(containerKey(this.#prefix, this.#hostId, id)).value(text),
      );
      const fresh = !this.#published.has(id);
      this.#published.set(id, text);
      log.info("Container {name}: {action} in etcd", {
        name: record.name,
        action: fresh ? "published" : "updated",
      });
    }
    for (const id of [...this.#published.keys()]) {
      if (desired.has(id)) continue;
      await call(
        "deleting a container key",
        client.delete().key(containerKey(this.#prefix, this.#hostId, id)),
      );
      this.#published.delete(id);
      log.info("Container {id}: removed from etcd", { id: id.slice(0, 12) });
    }
  }
}
