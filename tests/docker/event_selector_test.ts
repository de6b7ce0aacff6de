import { assertEquals, assertThrows } from "../_fixtures/assert.ts";
import { parseEvents, selects } from "../../lib/docker/event_selector.ts";

Deno.test("events: all is every real event but not none; none is only none", () => {
  const all = parseEvents("all");
  assertEquals([
    selects(all, "start"),
    selects(all, "exec_die"),
    selects(all, "none"),
  ], [true, true, false]);
  const none = parseEvents("none");
  assertEquals([selects(none, "start"), selects(none, "none")], [false, true]);
  const list = parseEvents(" Start , die,none");
  assertEquals(
    [
      selects(list, "start"),
      selects(list, "die"),
      selects(list, "stop"),
      selects(list, "none"),
    ],
    [true, true, false, true],
  );
});

Deno.test("events: unknown or empty events are errors naming the event", () => {
  assertThrows(() => parseEvents("start,strat"), TypeError, '"strat"');
  assertThrows(() => parseEvents(" , "), TypeError, "no events");
});
