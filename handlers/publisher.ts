/**
 * The publisher: keeps this host's running containers in etcd, one key per
 * container, all on one lease, so consumers on other hosts (docker-balancer
 * with `--source etcd`) see them and a dead host's containers expire.
 *
 * INI params: `endpoints` (comma list, default http://127.0.0.1:2379),
 * `prefix` (default /docker-glue), `ttl` (seconds, default 30), `host-id`
 * (default: the Docker engine's name), `advertise-address` (required: the
 * address other hosts reach this host's published ports on), `filter-label`
 * (optional `key` or `key=value`: publish only containers with that label),
 * and for a secured etcd `cacert`, `cert` and `key` (TLS, as etcdctl's
 * flags) and `user` with `password-file` (etcd's auth).
 *
 * @module
 */

import { checkAccess, readAccess } from "../lib/sources/etcd_access.ts";
import { isHostName, isIpLiteral } from "../lib/util/net_address.ts";
import { getLogger } from "@logtape/logtape";
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
} from "../lib/sources/document.ts";
import { EtcdClient, EtcdError } from "../lib/sources/etcd_client.ts";
import { CODE_NOT_FOUND } from "../lib/sources/etcd_wire.ts";
import {
  DEFAULT_ETCD_ENDPOINTS,
  DEFAULT_ETCD_PREFIX,
  parseEndpoints,
} from "../lib/sources/endpoints.ts";
import { backoff, sleep } from "../lib/util/sleep.ts";
import { VERSION } from "../lib/version.ts";
import { errorMessage } from "../lib/util/error_message.ts";

const log = getLogger(["docker-glue", "publisher"]);

/** Default lease TTL in seconds. */
export const DEFAULT_TTL_S = 30;
/**
 * Shortest TTL that outlives etcd 3.4's longest shutdown (its 7 s request
 * timeout) when the last refresh was a third of the TTL before it.
 */
const SAFE_TTL_S = 12;

/** Publishes running containers to etcd. */
export class Publisher extends BaseHandler {
  #client: EtcdClient | null = null;
  #prefix = DEFAULT_ETCD_PREFIX;
  #ttl = DEFAULT_TTL_S;
  #hostId = "";
  #advertise = "";
  #filter: { key: string; value: string | undefined } | null = null;
  /** The lease every key of this host hangs on (id), once granted. */
  #lease: string | null = null;
  /** What etcd holds for this host, by container id (JSON text). */
  #published = new Map<string, string>();
  #needFull = true;
  #closed = new AbortController();
  #wake: (() => void) | null = null;
  #dirty = false;
  #loop: Promise<void> | null = null;
  #keeper: Promise<void> | null = null;

  /** Reads the params and works out the host id; connects lazily. */
  override async init(): Promise<void> {
    const endpoints = parseEndpoints(
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
    if (this.#ttl < SAFE_TTL_S) {
      log.warn(
        "[params] ttl={ttl} in {file}: etcd can take up to 7 s to restart, answering nothing while leases run down; below {safe} s this host's containers may drop out of etcd during etcd restarts",
        { ttl: this.#ttl, file: this.iniFile, safe: SAFE_TTL_S },
      );
    }
    this.#advertise = this.param("advertise-address", "").trim();
    if (this.#advertise === "") {
      throw new TypeError(
        "[params] advertise-address is required: the address other hosts reach this host's published ports on",
      );
    }
    // Balancers refuse a document whose address is anything else: HAProxy
    // would resolve a host name at every check, and one that does not
    // resolve would reject every host's configuration.
    if (!isIpLiteral(this.#advertise)) {
      throw new TypeError(
        `[params] advertise-address: expected an IP address, got ${
          JSON.stringify(this.#advertise)
        }${
          isHostName(this.#advertise)
            ? " (a host name is not taken: give the address it resolves to)"
            : ""
        }`,
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
            errorMessage(error)
          }); set [params] host-id`,
        );
      }
      this.#hostId = checkHostId(name);
    }
    const access = checkAccess({
      caFile: this.param("cacert"),
      certFile: this.param("cert"),
      keyFile: this.param("key"),
      user: this.param("user"),
      passwordFile: this.param("password-file"),
    }, "[params] cert, key, user, password-file");
    this.#client = new EtcdClient(endpoints, await readAccess(access));
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
  async handle(): Promise<void> {
    if (this.agent.oneShot) {
      // -1: publish now, and fail the run if etcd cannot be reached;
      // nothing keeps the lease alive afterwards, so the keys last one TTL
      // unless a -w agent takes them over.
      await this.#sync();
      log.info("Published {count} containers to etcd at {endpoints}", {
        count: this.agent.inventory.list().filter((r) => this.#wanted(r))
          .length,
        endpoints: this.#client?.endpoints,
      });
      return;
    }
    this.#loop ??= this.#run();
    this.#keeper ??= this.#keepAlive();
    this.#kick();
  }

  /**
   * Stops syncing. The lease is not revoked: a restarted agent takes its keys
   * over, and a host that stays down expires after the TTL.
   */
  override async close(): Promise<void> {
    this.#closed.abort();
    this.#kick();
    this.#client?.close();
    await this.#loop;
    await this.#keeper;
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
          // One listener per wait, removed after it: the agent waits here
          // once per event for months.
          const done = () => {
            signal.removeEventListener("abort", done);
            resolve();
          };
          this.#wake = done;
          signal.addEventListener("abort", done, { once: true });
        });
        if (signal.aborted) break;
      }
      this.#dirty = false;
      try {
        await this.#sync();
        if (failing) {
          log.info("etcd at {endpoints} is reachable again; resynced", {
            endpoints: this.#client?.endpoints,
          });
        }
        failing = false;
        attempt = 0;
      } catch (error) {
        if (signal.aborted) break;
        this.agent.telemetry.etcdError();
        this.#needFull = true;
        if (error instanceof EtcdError && error.code === CODE_NOT_FOUND) {
          // The lease expired while etcd was out of reach.
          this.#lease = null;
        }
        const wait = backoff(attempt++, 250, 5000);
        if (!failing || attempt % 10 === 0) {
          log.warn(
            "Cannot publish host {host} to etcd: {error}; retrying in {wait} ms",
            {
              host: this.#hostId,
              error: errorMessage(error),
              wait,
            },
          );
        }
        failing = true;
        await sleep(wait, signal);
      }
    }
  }

  /**
   * Refreshes the lease every third of its TTL. When etcd says the lease is
   * gone (it was unreachable for longer than the TTL), everything is
   * published again on a new one.
   */
  async #keepAlive(): Promise<void> {
    const signal = this.#closed.signal;
    const every = Math.max(500, (this.#ttl * 1000) / 3);
    while (!signal.aborted) {
      await sleep(every, signal);
      const lease = this.#lease;
      const client = this.#client;
      if (signal.aborted || lease === null || client === null) continue;
      let ttl: number;
      try {
        ttl = await client.keepAlive(lease);
      } catch {
        // Unreachable: the sync loop reports it and retries; the next
        // keepalive tells whether the lease outlived the gap.
        continue;
      }
      if (ttl === 0 && this.#lease === lease) {
        log.warn(
          "etcd lease of host {host} expired; publishing again with a new one",
          { host: this.#hostId },
        );
        this.#lease = null;
        this.#needFull = true;
        this.#kick();
      }
    }
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
      this.#lease = (await client.grant(this.#ttl)).id;
      this.#needFull = true;
    }
    const lease = this.#lease;
    if (this.#needFull) {
      const existing = (await client.range(
        hostContainersPrefix(this.#prefix, this.#hostId),
      )).kvs.map((kv) => kv.key);
      await client.put(
        agentKey(this.#prefix, this.#hostId),
        JSON.stringify({
          version: DOCUMENT_VERSION,
          hostId: this.#hostId,
          advertiseAddress: this.#advertise,
          agentVersion: VERSION,
          since: new Date().toISOString(),
        }),
        lease,
      );
      for (const { record, text } of desired.values()) {
        await client.put(
          containerKey(this.#prefix, this.#hostId, record.id),
          text,
          lease,
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
        await client.delete(key);
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
      await client.put(
        containerKey(this.#prefix, this.#hostId, id),
        text,
        lease,
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
      await client.delete(containerKey(this.#prefix, this.#hostId, id));
      this.#published.delete(id);
      log.info("Container {id}: removed from etcd", { id: id.slice(0, 12) });
    }
  }
}
