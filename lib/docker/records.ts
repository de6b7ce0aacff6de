/**
 * Container records by key ({@link recordKey}: the id, with the host's id
 * before it for a container of another host) that tell their followers
 * which keys changed, so a follower with thousands of containers looks at
 * the few an event touched instead of comparing every record.
 *
 * @module
 */

import {
  type ChangeJournal,
  type ContainerRecord,
  recordKey,
} from "./container.ts";

class Journal implements ChangeJournal {
  readonly #records: ContainerRecords;
  readonly #stop: () => void;
  #ids: Set<string> | null = null;

  constructor(records: ContainerRecords, stop: () => void) {
    this.#records = records;
    this.#stop = stop;
  }

  note(id: string): void {
    this.#ids?.add(id);
  }

  noteAll(): void {
    this.#ids = null;
  }

  take(): ReadonlySet<string> | null {
    const ids = this.#ids;
    this.#ids = new Set();
    return ids;
  }

  get(id: string): ContainerRecord | undefined {
    return this.#records.get(id);
  }

  close(): void {
    this.#stop();
  }
}

/** Running containers by key, with a journal of changes for each follower. */
export class ContainerRecords {
  #records = new Map<string, ContainerRecord>();
  /** The key of each container of another host, by its bare id (a server names its container by id). */
  #hosted = new Map<string, string>();
  readonly #journals = new Set<Journal>();

  /** Every record, in no particular order. */
  list(): ContainerRecord[] {
    return [...this.#records.values()];
  }

  get size(): number {
    return this.#records.size;
  }

  /** The record of a container key (or bare id), if it is here. */
  get(key: string): ContainerRecord | undefined {
    const record = this.#records.get(key);
    if (record !== undefined || this.#hosted.size === 0) return record;
    const hosted = this.#hosted.get(key);
    return hosted === undefined ? undefined : this.#records.get(hosted);
  }

  /** Sets one container's record. */
  set(record: ContainerRecord): void {
    const key = recordKey(record);
    this.#records.set(key, record);
    if (key !== record.id) this.#hosted.set(record.id, key);
    for (const journal of this.#journals) journal.note(key);
  }

  /** Removes one container's record; returns whether it was here. */
  delete(key: string): boolean {
    const record = this.#records.get(key);
    if (record === undefined) return false;
    this.#records.delete(key);
    if (this.#hosted.get(record.id) === key) this.#hosted.delete(record.id);
    for (const journal of this.#journals) journal.note(key);
    return true;
  }

  /** Replaces every record. */
  replace(records: Iterable<ContainerRecord>): void {
    this.#records = new Map();
    this.#hosted = new Map();
    for (const record of records) {
      const key = recordKey(record);
      this.#records.set(key, record);
      if (key !== record.id) this.#hosted.set(record.id, key);
    }
    for (const journal of this.#journals) journal.noteAll();
  }

  /**
   * A journal of the keys that change from now on; its first take is null.
   * Close it when done: until then it keeps every id that changes.
   */
  follow(): ChangeJournal {
    const journal: Journal = new Journal(
      this,
      () => this.#journals.delete(journal),
    );
    this.#journals.add(journal);
    return journal;
  }
}
