/**
 * When the agent looks at a container again without an event.
 */

import { assertEquals } from "../_fixtures/assert.ts";
import {
  HEALTH_RECHECK_MS,
  SecondLooks,
} from "../../lib/docker/second_looks.ts";

Deno.test("second looks: a health event is looked at again after each delay until it settles", () => {
  const looks = new SecondLooks();
  looks.health("a", 0);
  assertEquals(looks.take(0), undefined);
  assertEquals(looks.wait(0), HEALTH_RECHECK_MS[0]);
  assertEquals(looks.take(HEALTH_RECHECK_MS[0]!), { kind: "health", id: "a" });
  assertEquals(looks.take(HEALTH_RECHECK_MS[0]!), undefined);
  assertEquals(looks.take(HEALTH_RECHECK_MS[1]!), { kind: "health", id: "a" });
  // Seen: no more looks.
  looks.settled("a");
  assertEquals(looks.take(100_000), undefined);
  assertEquals(looks.wait(0), Infinity);
});

Deno.test("second looks: a stopping container is looked at once, when its time has come", () => {
  const looks = new SecondLooks();
  looks.stopping("b", 15_000);
  assertEquals(looks.wait(1000), 14_000);
  assertEquals(looks.take(14_999), undefined);
  assertEquals(looks.take(15_000), { kind: "stopping", id: "b" });
  assertEquals(looks.take(20_000), undefined);
  // A second signal sets the time again.
  looks.stopping("b", 30_000);
  looks.stopping("b", 40_000);
  assertEquals(looks.take(30_000), undefined);
  assertEquals(looks.take(40_000), { kind: "stopping", id: "b" });
});
