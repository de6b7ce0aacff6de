/**
 * Container records and their journals: each follower takes the ids that
 * changed since it last took them, null first and after a replacement,
 * and a closed journal notes nothing more.
 */

import { assertEquals } from "../_fixtures/assert.ts";
import { container, ip } from "../_fixtures/containers.ts";
import { ContainerRecords } from "../../lib/docker/records.ts";

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
  records.replace([b]);
  assertEquals(one.take(), null);
  assertEquals(records.list(), [b]);
  // A closed journal notes nothing more; an open one goes on.
  assertEquals(two.take(), null);
  one.close();
  records.set(a);
  assertEquals(one.take(), new Set());
  assertEquals(two.take(), new Set([a.id]));
});

Deno.test("records: containers of other hosts are kept by host and id, so one host's id cannot replace another's; a bare id still finds its record", () => {
  const records = new ContainerRecords();
  const journal = records.follow();
  journal.take();
  const on = (host: string) =>
    container("same", ip("10.0.0.2"), (r) => {
      r.host = { id: host, advertiseAddress: "192.0.2.1" };
    });
  const h1 = on("h1");
  const h2 = on("h2");
  records.set(h1);
  records.set(h2);
  assertEquals(records.list(), [h1, h2]);
  const id = h1.id;
  assertEquals(journal.take(), new Set([`h1/${id}`, `h2/${id}`]));
  assertEquals(records.get(`h1/${id}`), h1);
  assertEquals(records.get(id), h2);
  assertEquals(records.delete(`h2/${id}`), true);
  assertEquals(journal.get(`h1/${id}`), h1);
  assertEquals(records.delete(`h1/${id}`), true);
  assertEquals(records.get(id), undefined);
});
