/**
 * The running containers docker-glue knows about, kept current by inspecting
 * only the container an event names.
 *
 * @module
 */

import { type DockerClient, statusCodeOf } from "./client.ts";
import {
  type ChangeJournal,
  type ContainerRecord,
  type ContainerSource,
  narrowInspect,
} from "./container.ts";
import { ContainerRecords } from "./records.ts";

/** How many inspects a full resync runs at once. */
const RESYNC_CONCURRENCY = 8;

/** Running containers by id. */
export class Inventory implements ContainerSource {
  /** The engine the inventory reads. */
  readonly docker: DockerClient;
  readonly #records = new ContainerRecords();

  /** Creates an empty inventory backed by a Docker client. */
  constructor(docker: DockerClient) {
    this.docker = docker;
  }

  /** Every known running container, in no particular order. */
  list(): ContainerRecord[] {
    return this.#records.list();
  }

  /** A journal of the container ids that change from now on. */
  follow(): ChangeJournal {
    return this.#records.follow();
  }

  /** The record for a container id, if it is running. */
  get(id: string): ContainerRecord | undefined {
    return this.#records.get(id);
  }

  /**
   * Replaces the inventory with a fresh listing of running containers. A
   * container that vanishes between listing and inspecting is left out.
   */
  async resync(): Promise<void> {
    const listed = await this.docker.listContainers();
    const ids = listed.map((entry) => entry.Id);
    const fresh = new Map<string, ContainerRecord>();
    let next = 0;
    const worker = async () => {
      while (next < ids.length) {
        const id = ids[next++] as string;
        const record = await this.#inspect(id);
        if (record !== null && record.running) {
          fresh.set(id, this.#keepStopping(record));
        }
      }
    };
    await Promise.all(
      Array.from({ length: Math.min(RESYNC_CONCURRENCY, ids.length) }, worker),
    );
    this.#records.replace(fresh.values());
  }

  /**
   * Re-inspects one container after an event. Returns its record, or null
   * when it no longer runs (then it is dropped from the inventory). A
   * stopping mark stays while the same run goes on, unless `stopping` is
   * "recheck": the caller asks whether a signal was ignored.
   */
  async refresh(
    id: string,
    stopping: "keep" | "recheck" = "keep",
  ): Promise<ContainerRecord | null> {
    const record = await this.#inspect(id);
    if (record === null || !record.running) {
      this.#records.delete(id);
      return null;
    }
    const kept = stopping === "keep" ? this.#keepStopping(record) : record;
    this.#records.set(kept);
    return kept;
  }

  /**
   * Marks a container as stopping (Docker sent it a terminating signal)
   * without asking Docker: it still runs, but is on its way out. Returns
   * false for a container not in the inventory. Inspect says "running"
   * until the process is gone, so the mark outlives later inspects of the
   * same run (a health event, a resync): only a new start, or a recheck
   * after the stop timeout, clears it.
   */
  markStopping(id: string): boolean {
    const record = this.#records.get(id);
    if (record === undefined) return false;
    this.#records.set({ ...record, stopping: true });
    return true;
  }

  /** Drops a container known to be gone (a `destroy` event) without asking Docker. */
  forget(id: string): void {
    this.#records.delete(id);
  }

  // Docker has no "stopping" state: what this inventory learnt from the
  // signal would otherwise be lost to any inspect, and the draining server
  // would take requests again until the kill cut them off.
  #keepStopping(record: ContainerRecord): ContainerRecord {
    const known = this.#records.get(record.id);
    return known?.stopping === true && known.startedAt === record.startedAt
      ? { ...record, stopping: true }
      : record;
  }

  async #inspect(id: string): Promise<ContainerRecord | null> {
    try {
      return narrowInspect(await this.docker.getContainer(id).inspect());
    } catch (error) {
      if (statusCodeOf(error) === 404) return null;
      throw error;
    }
  }
}
