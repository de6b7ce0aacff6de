/**
 * Container records by id that tell their followers which ids changed, so
 * a follower with thousands of containers looks at the few an event
 * touched instead of comparing every record.
 *
 * @module
 */

import type { ChangeJournal, ContainerRecord } from "./container.ts";

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

/** Running containers by id, with a journal of changes for each follower. */
export class ContainerRecords {
  #records = new Map<string, ContainerRecord>();
  readonly #journals = new Set<Journal>();

  /** Every record, in no particular order. */
  list(): ContainerRecord[] {
    return [...this.#records.values()];
  }

  /** The record of a container id, if it is here. */
  get(id: string): ContainerRecord | undefined {
    return this.#records.get(id);
  }

  /** Sets one container's record. */
  set(record: ContainerRecord): void {
    this.#records.set(record.id, record);
    for (const journal of this.#journals) journal.note(record.id);
  }

  /** Removes one container's record; returns whether it was here. */
  delete(id: string): boolean {
    if (!this.#records.delete(id)) return false;
    for (const journal of this.#journals) journal.note(id);
    return true;
  }

  /** Replaces every record. */
  replace(records: ReadonlyMap<string, ContainerRecord>): void {
    this.#records = new Map(records);
    for (const journal of this.#journals) journal.noteAll();
  }

  /**
   * A journal of the ids that change from now on; its first take is null.
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
