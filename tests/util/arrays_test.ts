/**
 * Array helpers: element-by-element sameness and the place of an item in a
 * sorted array.
 */

import { assertEquals } from "../_fixtures/assert.ts";
import { lowerBound, sameItems } from "../../lib/util/arrays.ts";

Deno.test("arrays: the same elements in the same order, compared with ===", () => {
  const part = ["a"];
  assertEquals(sameItems([part, part], [part, part]), true);
  assertEquals(sameItems([part], [["a"]]), false);
  assertEquals(sameItems(["a", "b"], ["b", "a"]), false);
  assertEquals(sameItems(["a"], ["a", "b"]), false);
  assertEquals(sameItems([], []), true);
});

Deno.test("arrays: lowerBound finds an item's index, or where it belongs", () => {
  const sorted = [1, 3, 3, 5, 8];
  for (
    const [value, at] of [[0, 0], [1, 0], [2, 1], [3, 1], [4, 3], [8, 4], [
      9,
      5,
    ]]
  ) {
    assertEquals(lowerBound(sorted, (n) => n < value!), at, `for ${value}`);
  }
  assertEquals(lowerBound([], () => true), 0);
});
