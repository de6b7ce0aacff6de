/**
 * The runtime operations of a map file's change: `set map`, `add map` and
 * `del map` for the entries that differ.
 *
 * @module
 */

import type { MapChange, RuntimeOp } from "./plan_types.ts";

/** The runtime operations that bring a map from `before` to `after`. */
export function mapOps(change: MapChange): RuntimeOp[] {
  if (change.before === change.after) return [];
  const ops = sortedMapOps(change) ?? unsortedMapOps(change);
  return change.first === true
    ? ops.map((op) => ({ ...op, first: true }))
    : ops;
}

/**
 * The operations of a map change whose entries are sorted by key, as the
 * pool keeps them: one pass over both, where an entry kept is the same
 * object. Null when either turns out not to be sorted.
 */
function sortedMapOps(change: MapChange): RuntimeOp[] | null {
  const { before, after, file } = change;
  const set: RuntimeOp[] = [];
  const unset: RuntimeOp[] = [];
  let i = 0;
  let j = 0;
  while (i < before.length || j < after.length) {
    const was = before[i];
    const now = after[j];
    // Every entry is checked as it is passed, kept ones too: an entry out
    // of order behind a kept one would otherwise read as added or removed.
    if (
      (was !== undefined && i > 0 && !(before[i - 1]![0] < was[0])) ||
      (now !== undefined && j > 0 && !(after[j - 1]![0] < now[0]))
    ) return null;
    if (was === now) {
      i++;
      j++;
      continue;
    }
    if (now === undefined || (was !== undefined && was[0] < now[0])) {
      unset.push({ op: "map", file, key: was![0], value: null, existed: true });
      i++;
    } else if (was === undefined || now[0] < was[0]) {
      set.push({ op: "map", file, key: now[0], value: now[1], existed: false });
      j++;
    } else {
      if (was[1] !== now[1]) {
        set.push({
          op: "map",
          file,
          key: now[0],
          value: now[1],
          existed: true,
        });
      }
      i++;
      j++;
    }
  }
  return [...set, ...unset];
}

function unsortedMapOps(change: MapChange): RuntimeOp[] {
  const before = new Map(change.before);
  const after = new Map(change.after);
  const ops: RuntimeOp[] = [];
  for (const [key, value] of after) {
    const was = before.get(key);
    if (was === value) continue;
    ops.push({
      op: "map",
      file: change.file,
      key,
      value,
      existed: was !== undefined,
    });
  }
  for (const key of before.keys()) {
    if (!after.has(key)) {
      ops.push({
        op: "map",
        file: change.file,
        key,
        value: null,
        existed: true,
      });
    }
  }
  return ops;
}
