import { assertEquals } from "../_fixtures/assert.ts";
import {
  type EventLine,
  readEvents,
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
