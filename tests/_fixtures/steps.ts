/**
 * What the property tests over sequences of container sets share: the
 * sequences, and records kept by spec, so that a container that did not
 * change keeps its record object from step to step, as the inventory does.
 *
 * @module
 */

import fc from "fast-check";
import type { ContainerRecord } from "../../lib/docker/container.ts";
import type { ContainerRecords } from "../../lib/docker/records.ts";

/** Sequences of container sets: each step up to `perStep` specs, one per id. */
export function stepsOf<S extends { id: number }>(
  spec: fc.Arbitrary<S>,
  perStep: number,
  steps: number,
): fc.Arbitrary<S[][]> {
  return fc.array(
    fc.uniqueArray(spec, { selector: (s) => s.id, maxLength: perStep }),
    { minLength: 1, maxLength: steps },
  );
}

/** `make` kept by spec: the same spec gives the same record object. */
export function recordsBy<S>(
  make: (spec: S) => ContainerRecord,
): (spec: S) => ContainerRecord {
  const made = new Map<string, ContainerRecord>();
  return (spec) => {
    const key = JSON.stringify(spec);
    let record = made.get(key);
    if (record === undefined) {
      record = make(spec);
      made.set(key, record);
    }
    return record;
  };
}

/**
 * Brings `records` to `containers` as the inventory would after the
 * events: the gone removed, the new and changed set, the rest untouched.
 */
export function syncRecords(
  records: ContainerRecords,
  containers: readonly ContainerRecord[],
): void {
  const ids = new Set(containers.map((c) => c.id));
  for (const c of records.list()) if (!ids.has(c.id)) records.delete(c.id);
  for (const c of containers) if (records.get(c.id) !== c) records.set(c);
}
