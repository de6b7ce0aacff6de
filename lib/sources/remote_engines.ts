/**
 * Docker engines of other hosts, followed directly (several `--docker-url`):
 * each has a follower of its own, with its own connection, reconnects, resync
 * and inventory, so one engine down holds up no other. Their containers
 * are reached on their published ports at the engine's host address, as
 * those read from etcd are.
 *
 * An engine that cannot be reached keeps its containers routed for a grace
 * period (default 30 s, as an etcd lease outlives its agent), in case it
 * is only restarting; after that they go, and come back with the engine.
 *
 * @module
 */

import { errorMessage } from "../util/error_message.ts";
import { getLogger } from "@logtape/logtape";
import { DockerFollower } from "../docker/follower.ts";
import { Inventory } from "../docker/inventory.ts";
import { connectDocker } from "../docker/client.ts";
import { cleartextWarning, type EngineAddress } from "../docker/engine_url.ts";
import type {
  ChangeJournal,
  ContainerRecord,
  ContainerSource,
} from "../docker/container.ts";
import type { Telemetry } from "../metrics/telemetry.ts";
import { Latch } from "../util/latch.ts";

const log = getLogger(["docker-glue", "engines"]);

/** How long a lost engine's containers stay routed, by default. */
export const DEFAULT_ENGINE_GRACE_MS = 30_000;

/** One other host's engine and what is known of it. */
class RemoteEngine {
  readonly address: EngineAddress;
  readonly inventory: Inventory;
  readonly follower: DockerFollower;
  /** Read at least once, and not lost for longer than the grace. */
  visible = false;
  /** Connected now. */
  connected = false;
  /** The first connection attempt ended, either way. */
  readonly tried = new Latch();
  #graceTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    address: EngineAddress,
    graceMs: number,
    telemetry: Telemetry | undefined,
    changed: (event: string | undefined, visibility: boolean) => void,
  ) {
    this.address = address;
    this.inventory = new Inventory(connectDocker(address));
    // Every event of another engine concerns the balancer, once inspected.
    const listener = {
      wants: (_action: string, phase: string) => phase === "late",
      early: () => {},
      changed: (action: string) => changed(action, false),
      resynced: () => changed(undefined, false),
    };
    this.follower = new DockerFollower(this.inventory, {
      dockerUrl: address.url,
      source: `docker ${address.name}`,
      ...(telemetry === undefined ? {} : { telemetry }),
      onConnection: (up) => {
        this.tried.open();
        if (up === this.connected) return;
        this.connected = up;
        if (up) {
          clearTimeout(this.#graceTimer);
          this.#graceTimer = undefined;
          const back = !this.visible;
          this.visible = true;
          log.info(
            "Engine {engine} at {url} connected: {count} running containers",
            {
              engine: address.name,
              url: address.url,
              count: this.inventory.list().length,
            },
          );
          if (back) changed(undefined, true);
          return;
        }
        if (!this.visible) return;
        const count = this.inventory.list().length;
        log.warn(
          "Engine {engine} at {url} lost: its {count} containers stay routed for {grace} s unless it comes back",
          {
            engine: address.name,
            url: address.url,
            count,
            grace: graceMs / 1000,
          },
        );
        this.#graceTimer = setTimeout(() => {
          this.#graceTimer = undefined;
          this.visible = false;
          log.warn(
            "Engine {engine} at {url} still lost after {grace} s: its {count} containers are no longer routed",
            {
              engine: address.name,
              url: address.url,
              count: this.inventory.list().length,
              grace: graceMs / 1000,
            },
          );
          changed(undefined, true);
        }, graceMs);
      },
    }, listener);
  }

  /** The engine's containers as seen from this host: on its published ports. */
  records(): ContainerRecord[] {
    return this.visible ? this.inventory.list().map((r) => this.map(r)) : [];
  }

  map(record: ContainerRecord): ContainerRecord {
    return {
      ...record,
      host: {
        id: this.address.name,
        advertiseAddress: this.address.address ?? "",
      },
    };
  }

  stop(): void {
    clearTimeout(this.#graceTimer);
  }
}

/**
 * This host's inventory and the containers of other hosts' engines, as one
 * source. `changed` is called for each event of another engine (for the
 * balancer to schedule an update) and when an engine's containers come or
 * go as a whole.
 */
export class EngineSet implements ContainerSource {
  readonly #local: Inventory;
  readonly #remotes: RemoteEngine[];
  readonly #journals = new Set<MergedJournal>();
  readonly #abort = new AbortController();
  #running: Promise<void>[] = [];

  /** Creates the set; nothing connects until {@link start}. */
  constructor(
    local: Inventory,
    remotes: readonly EngineAddress[],
    graceMs: number,
    changed: (event?: string) => void,
    telemetry?: Telemetry,
  ) {
    this.#local = local;
    this.#remotes = remotes.map((address) =>
      new RemoteEngine(address, graceMs, telemetry, (event, visibility) => {
        if (visibility) {
          for (const journal of this.#journals) journal.reset();
        }
        changed(event);
      })
    );
  }

  /** Every container: this host's, and those of the engines in reach. */
  list(): ContainerRecord[] {
    return [
      ...this.#local.list(),
      ...this.#remotes.flatMap((remote) => remote.records()),
    ];
  }

  /** A journal over every engine's changes. */
  follow(): ChangeJournal {
    const journal = new MergedJournal(
      this.#local.follow(),
      this.#remotes.map((remote) => ({
        remote,
        journal: remote.inventory.follow(),
      })),
      () => this.#journals.delete(journal),
    );
    this.#journals.add(journal);
    return journal;
  }

  /** Connects to every other engine, each on its own. */
  start(): void {
    if (this.#running.length > 0) return;
    for (const remote of this.#remotes) {
      const warning = cleartextWarning(remote.address);
      if (warning !== null) log.warn("{warning}", { warning });
    }
    this.#running = this.#remotes.map((remote) =>
      remote.follower.watch(this.#abort.signal).catch((error) => {
        // Only a missing permission ends a watch: say so, for that engine.
        log.error("Engine {engine} at {url} not followed: {error}", {
          engine: remote.address.name,
          url: remote.address.url,
          error: errorMessage(error),
        });
      })
    );
  }

  /**
   * Waits, at most `ms`, until every engine has been tried once, so the
   * first configuration has the containers of the engines in reach.
   */
  async settled(ms: number): Promise<void> {
    await Promise.all(this.#remotes.map((remote) => remote.tried.wait(ms)));
  }

  /** Stops following the other engines. */
  async close(): Promise<void> {
    this.#abort.abort();
    for (const remote of this.#remotes) remote.stop();
    await Promise.all(this.#running);
  }
}

/** One cursor over this host's journal and each other engine's. */
class MergedJournal implements ChangeJournal {
  readonly #local: ChangeJournal;
  readonly #remotes: { remote: RemoteEngine; journal: ChangeJournal }[];
  readonly #closed: () => void;
  #whole = false;

  constructor(
    local: ChangeJournal,
    remotes: { remote: RemoteEngine; journal: ChangeJournal }[],
    closed: () => void,
  ) {
    this.#local = local;
    this.#remotes = remotes;
    this.#closed = closed;
  }

  /** An engine's containers came or went as a whole: compare them all. */
  reset(): void {
    this.#whole = true;
  }

  take(): ReadonlySet<string> | null {
    // Every journal is taken, so none keeps changes already accounted for.
    const parts = [
      this.#local.take(),
      ...this.#remotes.map((r) => r.journal.take()),
    ];
    const whole = this.#whole;
    this.#whole = false;
    if (whole || parts.some((part) => part === null)) return null;
    const keys = new Set<string>(parts[0]);
    this.#remotes.forEach(({ remote }, i) => {
      for (const id of parts[i + 1] ?? []) {
        keys.add(`${remote.address.name}/${id}`);
      }
    });
    return keys;
  }

  /** By key, or by a bare id (a server's container): the first engine's that has it. */
  get(key: string): ContainerRecord | undefined {
    const at = key.lastIndexOf("/");
    if (at >= 0) {
      const name = key.slice(0, at);
      const entry = this.#remotes.find((r) => r.remote.address.name === name);
      if (entry === undefined || !entry.remote.visible) return undefined;
      const record = entry.journal.get(key.slice(at + 1));
      return record === undefined ? undefined : entry.remote.map(record);
    }
    const local = this.#local.get(key);
    if (local !== undefined) return local;
    for (const { remote, journal } of this.#remotes) {
      if (!remote.visible) continue;
      const record = journal.get(key);
      if (record !== undefined) return remote.map(record);
    }
    return undefined;
  }

  close(): void {
    this.#local.close();
    for (const { journal } of this.#remotes) journal.close();
    this.#closed();
  }
}
