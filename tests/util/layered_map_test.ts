/**
 * A layered map reads as the copy with the same keys set would, over
 * generated sequences of changes long enough to be flattened.
 */

import fc from "fast-check";
import { assertEquals } from "../_fixtures/assert.ts";
import { layered } from "../../lib/util/layered_map.ts";

Deno.test("layered map: each layer reads as a copy with its keys set", () => {
  const changesArb = fc.array(
    fc.array(fc.tuple(fc.integer({ min: 0, max: 12 }), fc.string()), {
      maxLength: 4,
    }),
    { maxLength: 80 },
  );
  fc.assert(
    fc.property(changesArb, (steps) => {
      let map: ReadonlyMap<number, string> = new Map([[1, "a"], [2, "b"]]);
      let copy = new Map(map);
      for (const step of steps) {
        const changes = new Map(step);
        map = layered(map, changes);
        copy = new Map(copy);
        for (const [key, value] of changes) copy.set(key, value);
        assertEquals(map.size, copy.size);
        assertEquals([...map], [...copy]);
        assertEquals([...map.keys()], [...copy.keys()]);
        assertEquals([...map.values()], [...copy.values()]);
        for (let key = -1; key <= 13; key++) {
          assertEquals(map.get(key), copy.get(key));
          assertEquals(map.has(key), copy.has(key));
        }
        const seen: [number, string][] = [];
        map.forEach((value, key) => seen.push([key, value]));
        assertEquals(seen, [...copy]);
      }
    }),
    { numRuns: 200 },
  );
});
