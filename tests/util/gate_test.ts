import { assertEquals } from "../_fixtures/assert.ts";
import { Gate } from "../../lib/util/gate.ts";

Deno.test("gate: at most the limit run at once, the rest in order of arrival; a failure frees its place", async () => {
  const gate = new Gate(2);
  let running = 0;
  let most = 0;
  const started: number[] = [];
  const task = (n: number) => () => {
    started.push(n);
    running++;
    most = Math.max(most, running);
    return new Promise<number>((resolve, reject) =>
      setTimeout(() => {
        running--;
        if (n === 1) reject(new Error("one fails"));
        else resolve(n);
      }, 5)
    );
  };
  const results = await Promise.allSettled(
    [0, 1, 2, 3, 4].map((n) => gate.run(task(n))),
  );
  assertEquals(most, 2);
  assertEquals(started, [0, 1, 2, 3, 4]);
  assertEquals(results.map((r) => r.status), [
    "fulfilled",
    "rejected",
    "fulfilled",
    "fulfilled",
    "fulfilled",
  ]);
  assertEquals(await gate.run(() => Promise.resolve("free")), "free");
});
