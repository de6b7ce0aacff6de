import { assertEquals, assertThrows, assertTrue } from "../_fixtures/assert.ts";
import { Debouncer, parseDebounce } from "../../lib/util/debounce.ts";

Deno.test("debounce: parses QUIET[:MAX] in ms or s", () => {
  assertEquals(parseDebounce("500ms:3s"), { quietMs: 500, maxMs: 3000 });
  assertEquals(parseDebounce("250"), { quietMs: 250, maxMs: 1500 });
  assertEquals(parseDebounce("1.5s:1s"), { quietMs: 1500, maxMs: 1500 });
  assertEquals(parseDebounce("0"), { quietMs: 0, maxMs: 0 });
  for (const bad of ["", "fast", "1m", "1:2:3", "-5"]) {
    assertThrows(() => parseDebounce(bad), SyntaxError, "Invalid debounce");
  }
});

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("debounce: a burst runs the task once after the quiet window", async () => {
  let runs = 0;
  const d = new Debouncer(() => {
    runs++;
    return Promise.resolve();
  }, { quietMs: 50, maxMs: 1000 });
  for (let i = 0; i < 20; i++) {
    d.trigger();
    await tick(5);
  }
  assertEquals(runs, 0);
  await tick(120);
  assertEquals(runs, 1);
  await d.stop();
});

Deno.test("debounce: a steady stream still runs at the maximum wait", async () => {
  let runs = 0;
  const d = new Debouncer(() => {
    runs++;
    return Promise.resolve();
  }, { quietMs: 40, maxMs: 100 });
  const start = Date.now();
  while (Date.now() - start < 350) {
    d.trigger();
    await tick(10);
  }
  assertTrue(runs >= 2 && runs <= 4, `runs=${runs}`);
  await d.stop();
});

Deno.test("debounce: runs never overlap; a trigger during a run runs once more", async () => {
  let active = 0;
  let maxActive = 0;
  let runs = 0;
  const d = new Debouncer(async () => {
    active++;
    maxActive = Math.max(maxActive, active);
    await tick(60);
    runs++;
    active--;
  }, { quietMs: 5, maxMs: 5 });
  d.trigger();
  await tick(20);
  d.trigger();
  d.trigger();
  await d.flush();
  assertEquals(maxActive, 1);
  assertEquals(runs, 2);
});

Deno.test("debounce: stop drops the pending run", async () => {
  let runs = 0;
  const d = new Debouncer(() => {
    runs++;
    return Promise.resolve();
  }, { quietMs: 30, maxMs: 30 });
  d.trigger();
  await d.stop();
  await tick(60);
  assertEquals(runs, 0);
});

Deno.test("debounce: nothing runs after stop, however often it is triggered", async () => {
  let runs = 0;
  const d = new Debouncer(() => {
    runs++;
    return Promise.resolve();
  }, { quietMs: 10, maxMs: 10 });
  d.trigger();
  await d.stop();
  d.trigger();
  d.trigger();
  await tick(60);
  assertEquals(runs, 0);
});
