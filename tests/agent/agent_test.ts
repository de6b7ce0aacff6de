import { configure, type LogRecord, reset } from "@logtape/logtape";
import { assertEquals, assertTrue } from "../_fixtures/assert.ts";
import { Agent } from "../../lib/agent/agent.ts";
import type { HandlerSlot } from "../../lib/agent/dispatcher.ts";
import { parseEvents } from "../../lib/docker/event_selector.ts";
import { connectDocker } from "../../lib/docker/client.ts";

/** An agent that never talks to Docker: these tests call dispatch directly. */
function agent(): Agent {
  return new Agent(connectDocker("unix:///nonexistent.sock"), {
    dockerUrl: "unix:///nonexistent.sock",
  });
}

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

function slot(
  name: string,
  events: string,
  log: string[],
  options: {
    triggersNone?: boolean;
    timeoutMs?: number;
    delay?: (event: string) => number;
    fail?: string;
  } = {},
): HandlerSlot {
  return {
    name,
    events: parseEvents(events),
    triggersNone: options.triggersNone ?? false,
    timeoutMs: options.timeoutMs ?? 5000,
    handler: {
      async handle(event, id) {
        await tick(options.delay?.(event) ?? 0);
        if (event === options.fail) throw new Error(`${name} cannot ${event}`);
        log.push(`${name}:${event}${id ? `:${id}` : ""}`);
      },
    },
  };
}

Deno.test("agent: all gets real events, none only the synthetic one", async () => {
  const log: string[] = [];
  const a = agent();
  a.add(slot("all", "all", log));
  a.add(slot("none", "none", log));
  a.add(slot("list", "start,none", log));
  await a.dispatch("none", "");
  await a.dispatch("start", "c1");
  await a.dispatch("die", "c1");
  assertEquals(log.sort(), [
    "all:die:c1",
    "all:start:c1",
    "list:none",
    "list:start:c1",
    "none:none",
  ]);
});

Deno.test("agent: triggers-none fires none once per real event, after the handlers ran", async () => {
  const log: string[] = [];
  const a = agent();
  a.add(slot("t1", "start", log, { triggersNone: true }));
  a.add(slot("t2", "start", log, { triggersNone: true, delay: () => 30 }));
  a.add(slot("plain", "die", log));
  a.add(slot("renderer", "none", log));
  await a.dispatch("start", "c1");
  await a.dispatch("die", "c1");
  await a.idle();
  assertEquals(log, [
    "t1:start:c1",
    "t2:start:c1",
    "renderer:none",
    "plain:die:c1",
  ]);
});

Deno.test("agent: each handler sees its events in arrival order, even when slow", async () => {
  const log: string[] = [];
  const a = agent();
  a.add(slot("slow", "all", log, { delay: (e) => (e === "create" ? 60 : 0) }));
  a.add(slot("fast", "all", log));
  const done = ["create", "start", "die", "destroy"].map((e) =>
    a.dispatch(e, "c1")
  );
  await Promise.all(done);
  assertEquals(log.filter((l) => l.startsWith("slow")), [
    "slow:create:c1",
    "slow:start:c1",
    "slow:die:c1",
    "slow:destroy:c1",
  ]);
  // The fast handler did not wait for the slow one.
  assertEquals(
    log.indexOf("fast:destroy:c1") < log.indexOf("slow:create:c1"),
    true,
  );
});

Deno.test("agent: a failing or hanging handler stops neither the others nor later events", async () => {
  const log: string[] = [];
  const a = agent();
  a.add(slot("thrower", "all", log, { fail: "start" }));
  a.add(
    slot("hanger", "all", log, {
      timeoutMs: 50,
      delay: (e) => (e === "start" ? 10_000 : 0),
    }),
  );
  a.add(slot("ok", "all", log));
  const start = Date.now();
  await a.dispatch("start", "c1");
  await a.dispatch("die", "c1");
  assertTrue(Date.now() - start < 2000, "the hanging handler held things up");
  assertEquals(log.sort(), [
    "hanger:die:c1",
    "ok:die:c1",
    "ok:start:c1",
    "thrower:die:c1",
  ]);
});

Deno.test("agent: on replace (SIGHUP) a closed handler gets no event, and the new ones wait for the old to close", async () => {
  const log: string[] = [];
  const a = agent();
  let closed = false;
  const old = slot("old", "all", log, { delay: () => 40 });
  a.add({
    ...old,
    handler: {
      handle: (event, id) => {
        if (closed) log.push(`old-after-close:${event}`);
        return old.handler.handle(event, id);
      },
      close: async () => {
        await tick(30);
        closed = true;
        log.push("old:closed");
      },
    },
  });
  void a.dispatch("start", "c1");
  const replaced = a.replace([slot("new", "all", log)]);
  // Events that arrive while the old handlers close go to the new ones.
  void a.dispatch("die", "c1");
  await replaced;
  await a.idle();
  assertEquals(log, ["old:start:c1", "old:closed", "new:die:c1"]);
});

Deno.test("agent: a handler with concurrency runs different containers side by side, each container's events in order, none after them all", async () => {
  const log: string[] = [];
  const a = agent();
  let running = 0;
  let most = 0;
  const inner = slot("lanes", "all,none", log, { delay: () => 20 });
  a.add({
    ...inner,
    handler: {
      concurrency: 3,
      async handle(event, id) {
        running++;
        most = Math.max(most, running);
        log.push(`begin:${event}${id ? `:${id}` : ""}`);
        await inner.handler.handle(event, id);
        running--;
      },
    },
  });
  const started = Date.now();
  for (const id of ["c1", "c2", "c3", "c4", "c5"]) {
    void a.dispatch("start", id);
    void a.dispatch("die", id);
  }
  void a.dispatch("none", "");
  void a.dispatch("destroy", "c1");
  await a.idle();
  const took = Date.now() - started;
  assertEquals(most, 3);
  // Ten events at 20 ms each, three at a time: well under ten in a row.
  assertTrue(took < 10 * 20, `took ${took} ms`);
  for (const id of ["c1", "c2", "c3", "c4", "c5"]) {
    assertTrue(
      log.indexOf(`lanes:start:${id}`) < log.indexOf(`begin:die:${id}`),
      `${id}: die began before start ended`,
    );
  }
  const none = log.indexOf("begin:none");
  assertEquals(log.filter((l, i) => l.startsWith("lanes:") && i > none), [
    "lanes:none",
    "lanes:destroy:c1",
  ]);
});

Deno.test("agent: without concurrency a handler stays one event at a time, in arrival order across containers", async () => {
  const log: string[] = [];
  const a = agent();
  a.add(slot("serial", "all", log, { delay: (e) => (e === "start" ? 15 : 0) }));
  for (const id of ["c1", "c2", "c3"]) {
    void a.dispatch("start", id);
    void a.dispatch("die", id);
  }
  await a.idle();
  assertEquals(log, [
    "serial:start:c1",
    "serial:die:c1",
    "serial:start:c2",
    "serial:die:c2",
    "serial:start:c3",
    "serial:die:c3",
  ]);
});

Deno.test("agent: an engine that cannot be reached is one warning, then quiet retries (debug) until the error changes or a minute passes", async () => {
  const warnings: string[] = [];
  const debug: string[] = [];
  await configure({
    sinks: {
      lines: (record: LogRecord) => {
        const text = record.message.map(String).join("");
        if (!text.startsWith("Cannot reach Docker")) return;
        (record.level === "warning" ? warnings : debug).push(text);
      },
    },
    loggers: [
      { category: ["docker-glue"], sinks: ["lines"], lowestLevel: "debug" },
      { category: ["logtape", "meta"], sinks: [], lowestLevel: "error" },
    ],
  });
  try {
    const a = agent();
    const stop = new AbortController();
    const watching = a.watch(stop.signal);
    // Retries at 250, 500 and 1000 ms: four attempts in about two seconds.
    await tick(2000);
    stop.abort();
    await watching;
    assertEquals(warnings.length, 1, warnings.join("\n"));
    assertTrue(warnings[0]!.includes("unix:///nonexistent.sock"));
    assertTrue(debug.length >= 2, `${debug.length} quiet retries`);
  } finally {
    await reset();
  }
});

Deno.test("agent: SIGUSR1's reopen reaches every handler that keeps log files, and no other", async () => {
  const a = agent();
  const log: string[] = [];
  a.add(slot("scripts", "all", log));
  const reopened: string[] = [];
  a.add({
    ...slot("lb", "all", log),
    handler: {
      handle: () => Promise.resolve(),
      reopenLogs: () => {
        reopened.push("lb");
        return Promise.resolve();
      },
    },
  });
  await a.reopenLogs();
  assertEquals(reopened, ["lb"]);
  await a.close();
});
