import { assertEquals } from "../_fixtures/assert.ts";
import type { DockerEvent } from "../../lib/docker/events.ts";
import { containerOf, PendingChanges } from "../../lib/docker/pending.ts";

function event(
  action: string,
  id: string,
  attributes: Record<string, string> = {},
  type = "container",
): DockerEvent {
  return { type, action, detail: "", id, time: 1, timeNano: "1", attributes };
}

Deno.test("pending: a storm on one container is one change, each action once, in the order of last arrival", () => {
  const pending = new PendingChanges();
  for (let i = 0; i < 10_000; i++) {
    pending.add(event(i % 2 ? "die" : "start", "c1"));
    pending.add(event("start", `other${i % 3}`));
  }
  pending.add(event("kill", "c1", { signal: "10" }));
  pending.add(event("start", "c1"));
  assertEquals(pending.size, 4);
  const first = pending.take();
  assertEquals(first, {
    id: "c1",
    actions: ["die", "kill", "start"],
    terminating: false,
    networkOnly: false,
    events: 10_002,
  });
  assertEquals(
    [pending.take()?.id, pending.take()?.id, pending.take()?.id],
    ["other0", "other1", "other2"],
  );
  assertEquals(pending.take(), undefined);
});

Deno.test("pending: a terminating kill last is kept for the fast path; a later die overrides it", () => {
  const pending = new PendingChanges();
  pending.add(event("kill", "c1", { signal: "15" }));
  assertEquals(pending.take()?.terminating, true);
  pending.add(event("kill", "c1", { signal: "SIGKILL" }));
  pending.add(event("die", "c1"));
  assertEquals(pending.take()?.terminating, false);
});

Deno.test("pending: network connect and disconnect name the container; other events are not taken", () => {
  const connect = event("connect", "net1", { container: "c1" }, "network");
  assertEquals(containerOf(connect), "c1");
  // Podman: the actor is the container, with no container attribute.
  assertEquals(
    containerOf(event("connect", "c2", { name: "web" }, "network")),
    "c2",
  );
  assertEquals(
    containerOf(event("create", "net1", { name: "n" }, "network")),
    null,
  );
  assertEquals(containerOf(event("pull", "img", {}, "image")), null);
  const pending = new PendingChanges();
  assertEquals(pending.add(event("destroy", "net1", {}, "network")), null);
  pending.add(connect);
  pending.add(event("disconnect", "net2", { container: "c1" }, "network"));
  assertEquals(pending.take(), {
    id: "c1",
    actions: ["connect", "disconnect"],
    terminating: false,
    networkOnly: true,
    events: 2,
  });
  pending.add(connect);
  pending.add(event("start", "c1"));
  assertEquals(pending.take()?.networkOnly, false);
});
