/**
 * When the file follows a runtime change: at once when nothing else runs,
 * after the updates that run, and at the latest FILE_LAG_MS behind.
 */

import { assertEquals, assertTrue } from "../../_fixtures/assert.ts";
import {
  FILE_LAG_MS,
  FileFollower,
} from "../../../lib/haproxy/io/file_follower.ts";
import { NO_ROUTES } from "../../../lib/haproxy/render/render.ts";
import type { Companions } from "../../../lib/haproxy/model/companions.ts";
import type { HAProxyModel } from "../../../lib/haproxy/model/model.ts";

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));
const companions: Companions = { maps: [], certs: null };
const model = (n: number): HAProxyModel => ({
  structure: [String(n)],
  backends: new Map(),
});

function follower(busy: () => boolean) {
  const writes: string[] = [];
  const file: FileFollower = new FileFollower({
    busy,
    write: () => writes.push(file.take()?.model.structure[0] ?? "none"),
  });
  return { file, writes };
}

Deno.test("file follower: written at once when no update runs, the latest state only", async () => {
  const { file, writes } = follower(() => false);
  file.due(NO_ROUTES, companions, model(1));
  file.due(NO_ROUTES, companions, model(2));
  assertTrue(file.pending);
  await tick(20);
  assertEquals(writes, ["2"]);
  assertEquals(file.pending, false);
});

Deno.test("file follower: waits for the updates that run, at most FILE_LAG_MS", async () => {
  let busy = true;
  const { file, writes } = follower(() => busy);
  file.due(NO_ROUTES, companions, model(1));
  await tick(100);
  assertEquals(writes, []);
  busy = false;
  await tick(60);
  assertEquals(writes, ["1"]);

  busy = true;
  const started = Date.now();
  file.due(NO_ROUTES, companions, model(3));
  while (writes.length < 2 && Date.now() - started < FILE_LAG_MS * 3) {
    await tick(20);
  }
  assertEquals(writes, ["1", "3"]);
  assertTrue(Date.now() - started >= FILE_LAG_MS, "written before the lag");
});

Deno.test("file follower: a file dropped or taken is not written by the timer", async () => {
  const { file, writes } = follower(() => false);
  file.due(NO_ROUTES, companions, model(1));
  file.drop();
  file.due(NO_ROUTES, companions, model(2));
  assertEquals(file.take()?.model.structure, ["2"]);
  await tick(30);
  assertEquals(writes, []);
});
