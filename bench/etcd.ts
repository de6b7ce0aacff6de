/**
 * `deno task bench:etcd`: docker-balancer fed by etcd, as a balancer of
 * many hosts runs. Documents are put into a real etcd (tests/e2e/_etcd.ts)
 * as the publisher writes them; every published port is a listener of this
 * process on 127.0.0.1 that answers HTTP with its container's name, so a
 * route is routed when a request through HAProxy gets that name. Prints, as
 * Markdown rows for docs/BENCHMARKS.md, with 200 and 4,000 containers
 * published (two per host name):
 *
 * - from the put of a document to its route answering, p50/p95, for a
 *   container joining a host name that exists and for a new host name;
 * - docker-balancer's resident memory.
 *
 * The floor is etcd's own: the time of the put. Usage: `deno task
 * bench:etcd` (a few minutes), or `--quick` (20 and 100 containers).
 *
 * @module
 */

import { freePort, haproxyDir, startBalancer } from "../tests/e2e/_harness.ts";
import { TestEtcd } from "../tests/e2e/_etcd.ts";
import { container, labels, publishes } from "../tests/_fixtures/containers.ts";
import { containerDocument, containerKey } from "../lib/sources/document.ts";
import { EtcdClient } from "../lib/sources/etcd_client.ts";
import { answeredAt, ms, percentile, printRun, row } from "./_common.ts";

const quick = Deno.args.includes("--quick");
const SIZES = quick ? [20, 100] : [200, 4000];
const SAMPLES = quick ? 3 : 15;
const PREFIX = "/docker-glue-bench";

/** Listeners that answer every request with their container's name. */
const listeners: Deno.Listener[] = [];

function serve(name: string): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  listeners.push(listener);
  const body = new TextEncoder().encode(
    `HTTP/1.0 200 OK\r\nContent-Length: ${name.length}\r\nConnection: close\r\n\r\n${name}`,
  );
  (async () => {
    for await (const conn of listener) {
      // Health checks connect and close; requests get the name.
      (async () => {
        try {
          const buf = new Uint8Array(1024);
          if (await conn.read(buf) !== null) await conn.write(body);
        } catch {
          // the peer went away: a health check
        } finally {
          try {
            conn.close();
          } catch { /* closed */ }
        }
      })();
    }
  })().catch(() => {});
  return (listener.addr as Deno.NetAddr).port;
}

let serial = 0;

/** Puts a container of `host` (a host id) serving `name`; resolves to the put's time. */
async function publish(
  etcd: EtcdClient,
  hostId: string,
  hostName: string,
): Promise<{ name: string; putMs: number }> {
  const name = `c${++serial}`;
  const record = container(
    name,
    labels({ glue_http_80_host: hostName }),
    publishes("80/tcp", serve(name)),
  );
  const document = containerDocument(record, hostId, "127.0.0.1");
  const started = performance.now();
  await etcd.put(
    containerKey(PREFIX, hostId, record.id),
    JSON.stringify(document),
  );
  return { name, putMs: performance.now() - started };
}

const etcdServer = await TestEtcd.start();
const etcd = new EtcdClient(["http://127.0.0.1:2379"]);
const dir = await haproxyDir();
const port = freePort();
const balancer = startBalancer([
  "-w",
  "--haproxy",
  "managed",
  "--source",
  "etcd",
  "--etcd-prefix",
  PREFIX,
  ...dir.listenArgs(port),
]);
try {
  await printRun("bench:etcd", quick);
  await balancer.waitForLine(/Started HAProxy/);
  console.log(
    "\n| measure | containers published | p50 | p95 | floor (etcd put p50) |",
  );
  console.log("|---|---|---|---|---|");
  let published = 0;
  for (const size of SIZES) {
    // Two containers per host name, ten per host id.
    for (; published < size; published++) {
      await publish(
        etcd,
        `bench-h${Math.floor(published / 10)}`,
        `app${Math.floor(published / 2)}.example.com`,
      );
    }
    const last = `app${Math.floor((published - 1) / 2)}.example.com`;
    await answeredAt(port, last, "/", `c${serial}`);
    for (const kind of ["join", "new host"] as const) {
      const times: number[] = [];
      const puts: number[] = [];
      for (let i = 0; i < SAMPLES; i++) {
        const host = kind === "join"
          ? `app${i}.example.com`
          : `bench-new-${size}-${i}.example.com`;
        const since = performance.now();
        const { name, putMs } = await publish(etcd, "bench-probe", host);
        puts.push(putMs);
        times.push((await answeredAt(port, host, "/", name)) - since);
      }
      row(
        `put to routed, ${kind}`,
        size,
        ms(percentile(times, 0.5)),
        ms(percentile(times, 0.95)),
        ms(percentile(puts, 0.5)),
      );
      published += SAMPLES;
    }
    row(
      "docker-balancer resident memory",
      published,
      `${Math.round((await balancer.rssKiB()) / 1024)} MB`,
      "",
      "",
    );
  }
} finally {
  // At 4,000 containers docker-balancer was once still running minutes
  // after SIGTERM: say so with its last lines rather than hang.
  const exited = await Promise.race([
    balancer.stop().then(() => true),
    new Promise<false>((r) => setTimeout(() => r(false), 30_000)),
  ]);
  if (!exited) {
    console.log(
      `docker-balancer did not exit within 30 s of SIGTERM; its last lines:\n${
        balancer.lines.slice(-20).join("\n")
      }`,
    );
    balancer.kill("SIGKILL");
    await balancer.finished();
  }
  etcd.close();
  for (const listener of listeners) listener.close();
  await etcdServer.stop();
  await dir.remove();
}
