/**
 * Named one-shot timers.
 */

import { assertEquals } from "../_fixtures/assert.ts";
import { Timers } from "../../lib/util/timers.ts";

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("timers: setting a name again replaces its timer; clearAll drops every one", async () => {
  const timers = new Timers<"a" | "b">();
  const fired: string[] = [];
  timers.set("a", 30, () => fired.push("a1"));
  timers.set("a", 10, () => fired.push("a2"));
  timers.set("b", 10, () => fired.push("b"));
  assertEquals(timers.has("a"), true);
  await tick(50);
  assertEquals(fired.sort(), ["a2", "b"]);
  assertEquals(timers.has("a"), false);
  timers.set("a", 10, () => fired.push("late"));
  timers.clearAll();
  await tick(30);
  assertEquals(fired.length, 2);
});
