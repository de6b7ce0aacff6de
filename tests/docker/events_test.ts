import { assertEquals } from "../_fixtures/assert.ts";
import {
  type DockerEvent,
  type EventLine,
  readEvents,
  RecentEvents,
  toEvent,
} from "../../lib/docker/events.ts";

async function collect(chunks: (string | Uint8Array)[]): Promise<EventLine[]> {
  async function* source() {
    for (const chunk of chunks) yield chunk;
  }
  const out: EventLine[] = [];
  for await (const line of readEvents(source())) out.push(line);
  return out;
}

const start = JSON.stringify({
  status: "start",
  id: "abc",
  Type: "container",
  Action: "start",
  Actor: { ID: "abc", Attributes: { name: "wp1", image: "x" } },
  time: 1700000000,
  timeNano: 1700000000123456789,
});

Deno.test("events: lines split across chunks and bytes are reassembled", async () => {
  const bytes = new TextEncoder().encode(`${start}\n${start}\n`);
  const lines = await collect([
    start.slice(0, 10),
    bytes.slice(10, 30),
    bytes.slice(30),
  ]);
  assertEquals(lines.length, 2);
  const first = lines[0];
  assertEquals(first && "event" in first ? first.event.id : "", "abc");
});

Deno.test("events: health events split into action and detail", () => {
  const event = toEvent({
    Type: "container",
    Action: "health_status: healthy",
    Actor: { ID: "abc", Attributes: {} },
    time: 1,
    timeNano: 1000000000,
  });
  assertEquals([event?.action, event?.detail], ["health_status", "healthy"]);
  // Podman 4.3, as its API sent it: the status in a field of its own.
  const podman = toEvent({
    status: "health_status",
    id: "a26fc666c9ea",
    Type: "container",
    Action: "health_status",
    Actor: { ID: "a26fc666c9ea", Attributes: { name: "ph1", podId: "" } },
    scope: "local",
    time: 1795547066,
    timeNano: 1795547066137639247,
    HealthStatus: "healthy",
  });
  assertEquals([podman?.action, podman?.detail], ["health_status", "healthy"]);
});

Deno.test("events: unexpected payloads are skipped, not fatal", async () => {
  const lines = await collect([
    "not json\n",
    '{"Type":"container"}\n',
    "[1,2]\n",
    "\n",
    `${
      JSON.stringify({
        Type: "plugin",
        Action: "enable",
        Actor: { ID: "p" },
        time: 5,
      })
    }\n`,
    `${start}\n`,
    '{"partial":',
  ]);
  assertEquals(
    lines.map((l) => "event" in l ? `event:${l.event.type}` : "skipped"),
    ["skipped", "skipped", "skipped", "event:plugin", "event:container"],
  );
});

Deno.test("events: nanosecond times keep all their digits", async () => {
  // Written out: a JS number literal would already have lost the digits.
  const raw =
    '{"Type":"container","Action":"start","Actor":{"ID":"abc"},"time":1700000000,"timeNano":1700000000123456789}';
  const lines = await collect([`${raw}\n`]);
  const first = lines[0];
  assertEquals(
    first && "event" in first ? first.event.timeNano : "",
    "1700000000123456789",
  );
});

function ev(
  id: string,
  action: string,
  time: number,
  nano: number,
): DockerEvent {
  return {
    type: "container",
    action,
    detail: "",
    id,
    time,
    timeNano: String(nano),
    attributes: {},
  };
}

Deno.test("events: out-of-order events all pass; a replay is recognized", () => {
  const recent = new RecentEvents();
  const burst = [
    ev("a", "start", 100, 100_000_000_900),
    ev("b", "start", 100, 100_000_000_100),
    ev("c", "start", 100, 100_000_000_500),
    ev("a", "die", 101, 101_000_000_000),
  ];
  assertEquals(burst.map((e) => recent.add(e)), [true, true, true, true]);
  // After a reconnect Docker replays from second 100.
  assertEquals(burst.map((e) => recent.add(e)), [false, false, false, false]);
  assertEquals(recent.add(ev("d", "start", 101, 101_000_000_001)), true);
});

Deno.test("events: old events are forgotten, so memory stays bounded", () => {
  const recent = new RecentEvents(2);
  for (let t = 0; t < 10_000; t++) recent.add(ev(`c${t}`, "start", t, t * 1e9));
  assertEquals(recent.size <= 3, true, `remembered ${recent.size}`);
});
