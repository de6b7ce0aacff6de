/**
 * A read-only map made from another by setting a few keys, in time
 * proportional to those keys rather than to the map: the new keys lie in a
 * layer over the old map, which is not copied. Layers are flattened into a
 * plain map once they are deep, so a lookup walks a bounded number of
 * them.
 *
 * @module
 */

/** How many layers a map may have before it is flattened. */
const MAX_DEPTH = 32;

class Layered<K, V> implements ReadonlyMap<K, V> {
  readonly #base: ReadonlyMap<K, V>;
  readonly #own: ReadonlyMap<K, V>;
  readonly depth: number;
  readonly size: number;

  constructor(base: ReadonlyMap<K, V>, own: ReadonlyMap<K, V>, depth: number) {
    this.#base = base;
    this.#own = own;
    this.depth = depth;
    let added = 0;
    for (const key of own.keys()) if (!base.has(key)) added++;
    this.size = base.size + added;
  }

  get(key: K): V | undefined {
    return this.#own.has(key) ? this.#own.get(key) : this.#base.get(key);
  }

  has(key: K): boolean {
    return this.#own.has(key) || this.#base.has(key);
  }

  *entries(): MapIterator<[K, V]> {
    // The layers, top first, down to the plain map under them: read once
    // each, not through one generator per layer.
    const layers: ReadonlyMap<K, V>[] = [this.#own];
    let map = this.#base;
    while (map instanceof Layered) {
      layers.push(map.#own);
      map = map.#base;
    }
    const latest = new Map<K, V>();
    const added: K[] = [];
    for (let i = layers.length - 1; i >= 0; i--) {
      for (const [key, value] of layers[i]!) {
        if (!map.has(key) && !latest.has(key)) added.push(key);
        latest.set(key, value);
      }
    }
    for (const [key, value] of map) {
      yield [key, latest.has(key) ? latest.get(key)! : value];
    }
    for (const key of added) yield [key, latest.get(key)!];
  }

  *keys(): MapIterator<K> {
    for (const [key] of this.entries()) yield key;
  }

  *values(): MapIterator<V> {
    for (const [, value] of this.entries()) yield value;
  }

  [Symbol.iterator](): MapIterator<[K, V]> {
    return this.entries();
  }

  forEach(
    callback: (value: V, key: K, map: ReadonlyMap<K, V>) => void,
    thisArg?: unknown,
  ): void {
    for (const [key, value] of this.entries()) {
      callback.call(thisArg, value, key, this);
    }
  }
}

/**
 * `base` with the entries of `changes` set (added, or replacing those of
 * the same key), in the order a copy of `base` with them set would have.
 * Neither map may change afterwards: the result reads both.
 */
export function layered<K, V>(
  base: ReadonlyMap<K, V>,
  changes: ReadonlyMap<K, V>,
): ReadonlyMap<K, V> {
  if (changes.size === 0) return base;
  const depth = base instanceof Layered ? base.depth + 1 : 1;
  if (depth <= MAX_DEPTH) return new Layered(base, changes, depth);
  const flat = new Map(base);
  for (const [key, value] of changes) flat.set(key, value);
  return flat;
}
