/**
 * Our etcd client against a real etcd 3.4: what the publisher and the
 * etcd-fed balancer rely on, including etcd going away under an open watch
 * (which crashed Deno's HTTP/2 stack when we used a gRPC client).
 */

import {
  assertEquals,
  assertRejects,
  assertTrue,
} from "../_fixtures/assert.ts";
import { EtcdClient, EtcdError } from "../../lib/sources/etcd_client.ts";
import type { WatchEvent } from "../../lib/sources/etcd_wire.ts";
import { ETCD_URL, etcdctl, TestEtcd } from "./_etcd.ts";
import { waitFor } from "./_harness.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
// Nothing listens on these ports (Deno refuses a few low ports outright,
// like browsers do, so these are above them).
const DEAD = "http://127.0.0.1:23991";
const DEAD2 = "http://127.0.0.1:23992";

Deno.test({
  ...opts,
  name: "etcd client: keys, leases and watches on a real etcd",
  async fn(t) {
    const etcd = await TestEtcd.start();
    const client = new EtcdClient([ETCD_URL]);
    const p = `/client-${crypto.randomUUID().slice(0, 8)}/`;
    try {
      await t.step(
        "a prefix read returns its keys and nothing else",
        async () => {
          await client.put(`${p}a`, "1");
          await client.put(`${p}ü/日本`, "ünï");
          await etcd.put(`${p.slice(0, -1)}0`, "sibling");
          const { kvs, revision } = await client.range(p);
          assertEquals(
            kvs.map((kv) => [kv.key, kv.value]).sort(),
            [[`${p}a`, "1"], [`${p}ü/日本`, "ünï"]],
          );
          assertTrue(Number(revision) >= 3, revision);
          // What we wrote reads the same with etcdctl.
          assertEquals((await etcd.read(`${p}ü`))[`${p}ü/日本`], "ünï");
          await client.delete(`${p}a`);
          await client.delete(`${p}a`);
          assertEquals((await client.range(`${p}a`)).kvs, []);
        },
      );

      await t.step("keys on a lease live while it is kept alive", async () => {
        const lease = await client.grant(2);
        assertEquals(lease.ttl, 2);
        await client.put(`${p}leased`, "x", lease.id);
        for (let i = 0; i < 4; i++) {
          await new Promise((r) => setTimeout(r, 700));
          assertTrue((await client.keepAlive(lease.id)) > 0);
        }
        assertEquals((await etcd.read(`${p}leased`))[`${p}leased`], "x");
        // Left alone, the lease expires and takes its key with it.
        await waitFor(
          "the leased key to expire",
          async () =>
            (await etcd.read(`${p}leased`))[`${p}leased`] === undefined
              ? true
              : undefined,
          6000,
          200,
        );
        assertEquals(await client.keepAlive(lease.id), 0);
        const error = await assertRejects(
          () => client.put(`${p}leased`, "y", lease.id),
          EtcdError,
          "lease not found",
        );
        assertEquals((error as EtcdError).code, 5);
      });

      await t.step("a watch sees puts and deletes in order", async () => {
        const { revision } = await client.range(p);
        const seen: WatchEvent[] = [];
        const stop = new AbortController();
        const watching = client.watch(
          p,
          revision,
          (events) => seen.push(...events),
          stop.signal,
        );
        await client.put(`${p}w`, "1");
        await etcdctl("put", `${p}w`, "2");
        await etcdctl("del", `${p}w`);
        await waitFor(
          "three events",
          () => Promise.resolve(seen.length >= 3 ? true : undefined),
        );
        stop.abort();
        await watching;
        assertEquals(seen, [
          { type: "put", key: `${p}w`, value: "1" },
          { type: "put", key: `${p}w`, value: "2" },
          { type: "delete", key: `${p}w`, value: "" },
        ]);
      });

      await t.step("a watch from compacted history is refused", async () => {
        const { revision } = await client.range(p);
        await client.put(`${p}c`, "1");
        await client.put(`${p}c`, "2");
        const latest = (await client.range(p)).revision;
        await etcdctl("compaction", latest);
        await assertRejects(
          () =>
            client.watch(p, revision, () => {}, new AbortController().signal),
          EtcdError,
          "compacted",
        );
      });

      for (const signal of ["SIGTERM", "SIGKILL"] as const) {
        await t.step(
          `etcd stopped (${signal}) under an open watch: the watch fails, the process lives`,
          async () => {
            const { revision } = await client.range(p);
            const seen: WatchEvent[] = [];
            const watching = client.watch(
              p,
              revision,
              (events) => seen.push(...events),
              new AbortController().signal,
            ).then(() => null, (error: unknown) => error);
            // The watch is open and delivering before etcd goes: a watch
            // that never connected would fail too, for another reason.
            const key = `${p}open-${signal}`;
            await etcd.put(key, "1");
            await waitFor(
              "the watch to see the put",
              () =>
                Promise.resolve(
                  seen.some((e) => e.key === key) ? true : undefined,
                ),
              5000,
              20,
            );
            await etcd.pause(signal);
            const error = await watching;
            assertTrue(
              error instanceof EtcdError && error.unreachable,
              String(error),
            );
            await assertRejects(
              () => client.range(p),
              EtcdError,
              "cannot reach etcd",
            );
            await etcd.resume();
            assertTrue((await client.range(p)).kvs.length > 0);
          },
        );
      }

      await t.step("the first endpoint that answers is used", async () => {
        const both = new EtcdClient([DEAD, ETCD_URL]);
        assertTrue((await both.range(p)).kvs.length > 0);
        const none = new EtcdClient([DEAD, DEAD2]);
        const error = await assertRejects(
          () => none.range(p),
          EtcdError,
          `cannot reach etcd (${DEAD}: Connection refused`,
        );
        assertTrue((error as EtcdError).unreachable);
        assertTrue(
          error.message.includes(`${DEAD2}: Connection refused`),
          error.message,
        );
      });

      await t.step(
        "a frozen etcd is given up on after the timeout",
        async () => {
          const quick = new EtcdClient([ETCD_URL], {}, 1000);
          etcd.freeze(true);
          try {
            const start = performance.now();
            await assertRejects(
              () => quick.range(p),
              EtcdError,
              "no answer in time",
            );
            const took = performance.now() - start;
            assertTrue(took >= 900 && took < 3000, `took ${took} ms`);
          } finally {
            etcd.freeze(false);
          }
          assertTrue((await quick.range(p)).kvs.length > 0);
        },
      );
    } finally {
      client.close();
      await etcd.stop();
    }
  },
});
