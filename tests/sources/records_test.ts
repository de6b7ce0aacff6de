/**
 * Container records and their journals: each follower takes the ids that
 * changed since it last took them, null first and after a replacement,
 * and a closed journal notes nothing more.
 */

import { assertEquals } from "../_fixtures/assert.ts";
import { container, ip } from "../_fixtures/containers.ts";
import { ContainerRecords } from "../../lib/sources/records.ts";

Deno.test("records: journals take the ids changed since their last take", () => {
  const records = new ContainerRecords();
  const a = container("a", ip("10.0.0.2"));
  const b = container("b", ip("10.0.0.3"));
  records.set(a);
  const one = records.follow();
  assertEquals(one.take(), null);
  records.set(b);
  const two = records.follow();
  records.delete(a.id);
  assertEquals(one.take(), new Set([b.id, a.id]));
  assertEquals(one.take(), new Set());
  // A second follower has its own: null first, then only what came after.
  assertEquals(two.take(), null);
  records.set(a);
  assertEquals(two.take(), new Set([a.id]));
  assertEquals(two.get(a.id), a);
  assertEquals(two.get("gone"), undefined);
  // Deleting what is not there changes nothing.
  assertEquals(records.delete("gone"), false);
  assertEquals(one.take(), new Set([a.id]));
  // Replaced whole: anything may have changed.
  records.replace(new Map([[b.id, b]]));
  assertEquals(one.take(), null);
  assertEquals(records.list(), [b]);
  // A closed journal notes nothing more; an open one goes on.
  assertEquals(two.take(), null);
  one.close();
  records.set(a);
  assertEquals(one.take(), new Set());
  assertEquals(two.take(), new Set([a.id]));
});
