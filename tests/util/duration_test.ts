/** Durations of a whole number and a unit, as HAProxy reads them. */

import { assertEquals } from "../_fixtures/assert.ts";
import { durationMs } from "../../lib/util/duration.ts";

Deno.test("duration: ms, s, m and h; anything else is null", () => {
  assertEquals(
    ["500ms", "30s", "5m", "24h", "0s"].map(durationMs),
    [500, 30_000, 300_000, 86_400_000, 0],
  );
  for (const bad of ["30", "1d", "1.5s", " 1s", "1s ", "s", "-1s", ""]) {
    assertEquals(durationMs(bad), null, bad);
  }
});
