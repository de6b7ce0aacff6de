import { assertEquals } from "../_fixtures/assert.ts";
import { damping } from "../../lib/routing/damping.ts";
import { container, restarted, stopped } from "../_fixtures/containers.ts";

const NOW = Date.parse("2026-06-01T12:00:00Z");

Deno.test("damping: restarted and young is damped until it settles", () => {
  const result = damping(
    [
      container("fresh", restarted(0, "2026-06-01T11:59:59Z")),
      container("looping", restarted(5, "2026-06-01T11:59:58Z")),
      container("settled", restarted(3, "2026-06-01T11:59:00Z")),
      container("dead", stopped(), restarted(9, "2026-06-01T11:59:59Z")),
      container("odd", restarted(2, "")),
    ],
    NOW,
    30_000,
  );
  assertEquals([...result.damped].map((id) => id.split("-")[0]), ["looping"]);
  assertEquals(result.recheckAt, Date.parse("2026-06-01T12:00:28Z"));
});

Deno.test("damping: nothing damped, nothing to recheck", () => {
  assertEquals(damping([container("a")], NOW), {
    damped: new Set<string>(),
    recheckAt: undefined,
  });
});
