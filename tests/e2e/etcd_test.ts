/**
 * Publishing to a real etcd: the publisher keeps this host's containers
 * there, and `-1` runs of the balancer and the agent read and write it.
 */

import {
  assertEquals,
  assertIncludes,
  assertTrue,
} from "../_fixtures/assert.ts";
import { TestEtcd } from "./_etcd.ts";
import { container, labels, publishes } from "../_fixtures/containers.ts";
import { containerDocument, containerKey } from "../../lib/sources/document.ts";
import {
  docker,
  ensureImage,
  IMAGE,
  removeContainers,
  runBalancer,
  runGlue,
  startGlue,
  stopAtEnd,
  waitFor,
} from "./_harness.ts";
import { withCleanup } from "../_fixtures/cleanup.ts";
import { handlerDir, opts, run, TTL } from "./_etcd.ts";

Deno.test({
  ...opts,
  name: "e2e etcd: the publisher keeps this host's containers in etcd",
  fn: (t) =>
    withCleanup(async (cleanup) => {
      await ensureImage();
      const names = ["dg-pub-1", "dg-pub-2", "dg-pub-hidden"];
      await removeContainers(...names);
      cleanup.defer("containers", () => removeContainers(...names));
      const etcd = cleanup.add("etcd", await TestEtcd.start(), (e) => e.stop());
      const prefix = `/dgt-${crypto.randomUUID().slice(0, 8)}`;
      const hostKeys = `${prefix}/hosts/ha/containers/`;
      await etcd.put(`${hostKeys}deadbeefdead`, '{"version":1}');
      const dir = await handlerDir(cleanup, "publisher", {
        endpoints: "http://127.0.0.1:2379",
        prefix,
        ttl: String(TTL),
        "host-id": "ha",
        "advertise-address": "127.0.0.1",
        "filter-label": "dg-pub=1",
      });
      // The last step kills it.
      const glue = stopAtEnd(
        cleanup,
        "docker-glue",
        startGlue(["-w", "--handler-paths", dir.path]),
        false,
      );
      await glue.waitForLine(/with 1 handlers/);

      await t.step(
        "a resync removes keys of containers that are gone",
        async () => {
          await waitFor(
            "the stale key removed",
            async () =>
              Object.keys(await etcd.read(hostKeys)).length === 0
                ? true
                : undefined,
          );
        },
      );

      let id = "";
      await t.step(
        "a running labelled container gets a documented key",
        async () => {
          id = await run("dg-pub-1", {
            "dg-pub": "1",
            glue_http_80_host: "pub.example.com",
          }, "127.0.0.1::80");
          await run("dg-pub-hidden", {}, "127.0.0.1::80");
          const text = await waitFor(
            "the key",
            async () => (await etcd.read(hostKeys))[`${hostKeys}${id}`],
          );
          const doc = JSON.parse(text);
          assertEquals(doc.version, 1);
          assertEquals([doc.hostId, doc.advertiseAddress, doc.id, doc.name], [
            "ha",
            "127.0.0.1",
            id,
            "dg-pub-1",
          ]);
          assertEquals(doc.image, IMAGE);
          assertEquals(doc.labels.glue_http_80_host, "pub.example.com");
          assertEquals(
            [
              doc.state.running,
              doc.state.paused,
              doc.state.health,
              doc.state.restartCount,
            ],
            [true, false, "none", 0],
          );
          assertEquals(
            doc.state.startedAt,
            await docker("inspect", "-f", "{{.State.StartedAt}}", id),
          );
          assertEquals(doc.exposedPorts, ["80/tcp"]);
          const published = await docker("port", id, "80/tcp");
          assertEquals(
            doc.publishedPorts[0].hostPort,
            Number(published.split(":").at(-1)),
          );
          assertTrue(Object.keys(doc.networks).length >= 1);
          assertEquals("env" in doc, false);
          // The container without the filter label is not published.
          assertEquals(Object.keys(await etcd.read(hostKeys)).length, 1);
          assertTrue(
            (await etcd.read(`${prefix}/hosts/ha/agent`))[
              `${prefix}/hosts/ha/agent`
            ] !== undefined,
          );
        },
      );

      await t.step("a stopped container's key is deleted", async () => {
        await docker("stop", "-t", "1", id);
        await waitFor(
          "the key deleted",
          async () =>
            (await etcd.read(hostKeys))[`${hostKeys}${id}`] === undefined
              ? true
              : undefined,
        );
      });

      await t.step(
        "etcd down and back: the agent survives and resyncs",
        async () => {
          const failures = glue.count(/Cannot publish host ha to etcd/);
          await etcd.pause();
          const id2 = await run("dg-pub-2", { "dg-pub": "1" }, "127.0.0.1::80");
          // The agent tried to publish it and found etcd gone.
          await glue.waitForCount(
            /Cannot publish host ha to etcd/,
            failures + 1,
            10000,
          );
          await etcd.resume();
          await waitFor(
            "the container started during the outage",
            async () =>
              (await etcd.read(hostKeys))[`${hostKeys}${id2}`] !== undefined
                ? true
                : undefined,
            30000,
          );
        },
      );

      await t.step(
        "etcd frozen past the TTL: the expired lease is replaced and the keys come back",
        async () => {
          const keys = Object.keys(await etcd.read(hostKeys));
          assertTrue(keys.length > 0);
          const expired = glue.count(/lease of host ha expired/);
          etcd.freeze(true);
          await new Promise((r) => setTimeout(r, (TTL + 3) * 1000));
          etcd.freeze(false);
          const thawed = performance.now();
          await glue.waitForLine(/lease of host ha expired/, 10000);
          assertTrue(glue.count(/lease of host ha expired/) > expired);
          await waitFor(
            "the keys published again",
            async () => {
              const now = Object.keys(await etcd.read(hostKeys));
              return keys.every((k) => now.includes(k)) ? true : undefined;
            },
            10000,
            100,
          );
          console.log(
            `lease expired while etcd was frozen: keys back ${
              Math.round(performance.now() - thawed)
            } ms after etcd answered again`,
          );
        },
      );

      await t.step(
        "after SIGKILL the host's keys vanish within the TTL",
        async () => {
          glue.kill("SIGKILL");
          const start = performance.now();
          await waitFor(
            "keys to expire",
            async () =>
              Object.keys(await etcd.read(`${prefix}/hosts/ha/`)).length === 0
                ? true
                : undefined,
            (TTL + 4) * 1000,
            200,
          );
          const took = (performance.now() - start) / 1000;
          console.log(
            `keys gone ${took.toFixed(1)} s after SIGKILL (TTL ${TTL} s)`,
          );
          // A lease runs TTL from its last refresh, which came before the
          // kill; etcd looks for expired leases every 500 ms and we poll
          // every 200 ms. Measured here: 4.4 s with TTL 4.
          assertTrue(took <= TTL + 1, `took ${took.toFixed(1)} s`);
        },
      );
    }),
});

Deno.test({
  ...opts,
  name:
    "e2e etcd: docker-balancer -1 --source etcd renders from etcd without a Docker engine, and routes no hostile document",
  async fn() {
    const etcd = await TestEtcd.start();
    const prefix = `/dgt-${crypto.randomUUID().slice(0, 8)}`;
    try {
      const record = container(
        "remote-web",
        labels({ glue_http_80_host: "remote.example.com" }),
        publishes("80/tcp", 32080),
      );
      await etcd.put(
        containerKey(prefix, "hb", record.id),
        JSON.stringify(containerDocument(record, "hb", "127.0.0.1")),
      );
      // Issue 21's injected document, and two more hostile ones, beside it.
      const evil = container(
        "evil",
        labels({ glue_http_80_host: "evil.example.com" }),
        publishes("80/tcp", 8080),
      );
      const hostile = {
        [containerKey(prefix, "evil", evil.id)]: {
          advertiseAddress:
            "192.0.2.1:1 check\n    listen injected\n    bind 127.0.0.1:2222\n#",
        },
        [containerKey(prefix, "evil2", evil.id)]: {
          publishedPorts: [{
            port: "80/tcp",
            hostIp: "0.0.0.0",
            hostPort: 99999,
          }],
        },
        [containerKey(prefix, "evil3", evil.id)]: {
          advertiseAddress: "192.0.2.1 backup",
        },
      };
      for (const [key, fields] of Object.entries(hostile)) {
        const hostId = key.split("/hosts/")[1]!.split("/")[0]!;
        await etcd.put(
          key,
          JSON.stringify({
            ...containerDocument(evil, hostId, "192.0.2.1"),
            ...fields,
          }),
        );
      }
      const from = ["--source", "etcd", "--etcd-prefix", prefix];
      // A Docker URL this binary may not even reach: nothing may ask it.
      const run = await runBalancer([
        "-1",
        "--dry-run",
        ...from,
        "--docker-url",
        "tcp://127.0.0.1:1",
      ]);
      assertEquals(run.code, 0, run.stderr);
      assertTrue(
        /server hb:remote-web:80 127\.0\.0\.1:32080 /.test(run.stdout),
        run.stdout,
      );
      assertTrue(
        !/injected|2222|backup|99999|evil/.test(run.stdout),
        run.stdout,
      );
      // One line for each, naming the key and the field.
      const fields = [
        "advertiseAddress",
        "publishedPorts[0].hostPort",
        "advertiseAddress",
      ];
      Object.keys(hostile).forEach((key, i) => {
        const lines = run.stderr.split("\n").filter((l) => l.includes(key));
        assertEquals(lines.length, 1, run.stderr);
        assertIncludes(lines[0] ?? "", fields[i] ?? "");
      });
      const routes = await runBalancer(["routes", "--json", ...from]);
      assertEquals(routes.code, 0, routes.stderr);
      const report = JSON.parse(routes.stdout) as {
        unrouted: { container: string; reason: string }[];
      };
      assertEquals(
        report.unrouted.filter((row) => row.reason === "bad-document")
          .map((row) => row.container).sort(),
        Object.keys(hostile).sort(),
      );
    } finally {
      await etcd.stop();
    }
  },
});

Deno.test({
  ...opts,
  name:
    "e2e etcd: docker-glue -1 with the publisher publishes before it exits, and fails when etcd is down",
  fn: () =>
    withCleanup(async (cleanup) => {
      await ensureImage();
      await removeContainers("dg-pub-once");
      cleanup.defer("container", () => removeContainers("dg-pub-once"));
      const etcd = cleanup.add("etcd", await TestEtcd.start(), (e) => e.stop());
      const prefix = `/dgt-${crypto.randomUUID().slice(0, 8)}`;
      const dir = await handlerDir(cleanup, "publisher", {
        endpoints: "http://127.0.0.1:2379",
        prefix,
        "host-id": "hone",
        "advertise-address": "127.0.0.1",
        "filter-label": "dg-pub-once=1",
      });
      const id = await run(
        "dg-pub-once",
        { "dg-pub-once": "1" },
        "127.0.0.1::80",
      );
      const once = await runGlue(["-1", "--handler-paths", dir.path]);
      assertEquals(once.code, 0, once.stderr);
      const keys = await etcd.read(`${prefix}/hosts/hone/containers/`);
      assertEquals(Object.keys(keys), [
        `${prefix}/hosts/hone/containers/${id}`,
      ]);

      await etcd.stop();
      const down = await runGlue(["-1", "--handler-paths", dir.path]);
      assertEquals(down.code, 1, down.stderr);
      assertTrue(
        /Handler \S*publisher\.ini failed on none: cannot reach etcd/.test(
          down.stderr,
        ),
        down.stderr,
      );
    }),
});

Deno.test({
  ...opts,
  name:
    "e2e etcd: the publisher refuses an advertise-address that is not an IP address, a host name included",
  fn: () =>
    withCleanup(async (cleanup) => {
      for (
        const [address, says] of [
          [
            "192.0.2.1 backup",
            'expected an IP address, got "192.0.2.1 backup"',
          ],
          // HAProxy would resolve it at every check (issue 31).
          [
            "docker1.example.com",
            'expected an IP address, got "docker1.example.com" (a host name is not taken',
          ],
        ] as const
      ) {
        const dir = await handlerDir(cleanup, `publisher-${address.length}`, {
          endpoints: "http://127.0.0.1:2379",
          "host-id": "hbad",
          "advertise-address": address,
        });
        const check = await runGlue(["--check", "--handler-paths", dir.path]);
        assertEquals(check.code, 1, check.stderr);
        assertIncludes(
          check.stdout + check.stderr,
          `advertise-address: ${says}`,
        );
      }
    }),
});
