import { assertEquals } from "../_fixtures/assert.ts";
import { Latch } from "../../lib/util/latch.ts";

Deno.test("latch: waiters wake when it opens; after that waits end at once; a wait times out while shut", async () => {
  const latch = new Latch();
  assertEquals(await latch.wait(20), false);
  const waiting = latch.wait(5000);
  latch.open();
  latch.open();
  assertEquals([await waiting, latch.isOpen, await latch.wait(0)], [
    true,
    true,
    true,
  ]);
});
