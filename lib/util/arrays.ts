/**
 * Small helpers over arrays: comparing two element by element, and
 * finding a place in a sorted one.
 *
 * @module
 */

/** Whether `a` and `b` hold the same elements (`===`) in the same order. */
export function sameItems<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((item, i) => item === b[i]);
}

/**
 * The first index of `items` whose item is not below the one looked for,
 * in items sorted so that every item `below` says true of comes first.
 */
export function lowerBound<T>(
  items: readonly T[],
  below: (item: T) => boolean,
): number {
  let low = 0;
  let high = items.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (below(items[middle]!)) low = middle + 1;
    else high = middle;
  }
  return low;
}
