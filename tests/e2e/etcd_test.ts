/**
 * Publishing to a real etcd, and docker-balancer fed from it: two agents on
 * one Docker engine stand for two hosts (each publishes only the containers
 * carrying its `dg-host` label, under its own host id and advertise address)
 * and one balancer routes to both through a real HAProxy.
 */

import { assertEquals, assertTrue } from "../_fixtures/assert.ts";
import { TestEtcd } from "./_etcd.ts";
import { container, labels, publishes } from "../_fixtures/containers.ts";
import {
  containerDocument,
  containerKey,
} from "../../lib/discovery/document.ts";
import {
  ADMIN_SOCKET,
  docker,
  ensureImage,
  freePort,
  httpGet,
  IMAGE,
  masterProc,
  readRoutes,
  removeContainers,
  runBalancer,
  runGlue,
  startBalancerWithHaproxy,
  startGlue,
  stopAtEnd,
  stopsCleanly,
  TEST_LABEL,
  testHaproxyDir,
  testTempDir,
  waitFor,
  waitForBody,
} from "./_harness.ts";
import { type Cleanup, withCleanup } from "../_fixtures/cleanup.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
/** Lease TTL of the single-publisher test: short, so expiry is quick to see. */
const TTL = 4;
/**
 * Lease TTL of the two-host test, whose routes must outlive etcd restarts:
 * etcd 3.4 can take up to 7 s to shut down, answering nothing while leases
 * run down, and a lease is refreshed every third of its TTL, so 12 s leaves
 * at least 8 s at the moment etcd stops answering.
 */
const HOSTS_TTL = 12;

/** A handler directory with the publisher as `name`.ini; `cleanup` removes it. */
async function handlerDir(
  cleanup: Cleanup,
  name: string,
  params: Record<string, string>,
): Promise<{ path: string }> {
  const path = await testTempDir(cleanup, "docker-glue-pub-");
  const lines = Object.entries(params).map(([k, v]) => `${k}=${v}`).join("\n");
  await Deno.writeTextFile(
    `${path}/${name}.ini`,
    `[handler]\nclass=DockerGlue.handlers.publishers.distconfig.Publisher\nevents=none,start,die,stop,destroy,pause,unpause,health_status,rename\n\n[params]\n${lines}\n`,
  );
  return { path };
}

function run(
  name: string,
  labels: Record<string, string>,
  publish: string,
): Promise<string> {
  const args = [
    "run",
    "-d",
    "--name",
    name,
    "-l",
    TEST_LABEL,
    "-e",
    `NAME=${name}`,
    "-p",
    publish,
  ];
  for (const [k, v] of Object.entries(labels)) args.push("-l", `${k}=${v}`);
  return docker(...args, IMAGE);
}

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
    "e2e etcd: one balancer routes to containers of two hosts; a dead host's routes go",
  fn: (t) =>
    withCleanup(async (cleanup) => {
      await ensureImage();
      const names = [
        "dg-host-a1",
        "dg-host-a5",
        "dg-host-b1",
        "dg-host-a2",
        "dg-host-a3",
        "dg-host-a4",
      ];
      await removeContainers(...names);
      cleanup.defer("containers", () => removeContainers(...names));
      const etcd = cleanup.add("etcd", await TestEtcd.start(), (e) => e.stop());
      const prefix = `/dgt-${crypto.randomUUID().slice(0, 8)}`;
      const agent = (host: string, address: string) =>
        handlerDir(cleanup, `publisher-${host}`, {
          endpoints: "http://127.0.0.1:2379",
          prefix,
          ttl: String(HOSTS_TTL),
          "host-id": `host-${host}`,
          "advertise-address": address,
          "filter-label": `dg-host=${host}`,
        });
      const dirA = await agent("a", "127.0.0.1");
      const dirB = await agent("b", "127.0.0.2");
      const glueA = stopsCleanly(
        cleanup,
        "agent a",
        startGlue(["-w", "--handler-paths", dirA.path]),
      );
      // The last step kills it.
      const glueB = stopAtEnd(
        cleanup,
        "agent b",
        startGlue(["-w", "--handler-paths", dirB.path]),
        false,
      );
      const conf = await testHaproxyDir(cleanup);
      const config = conf.config;
      const port = freePort();
      const common = [
        "--source",
        "etcd",
        "--etcd-prefix",
        prefix,
        ...conf.listenArgs(port),
      ];
      const { balancer } = await startBalancerWithHaproxy(
        cleanup,
        config,
        common,
      );
      await balancer.waitForLine(/Read \d+ containers from etcd/);

      const bothHostsAnswer = () =>
        waitFor(
          "both hosts answering",
          async () => {
            const seen = new Set<string>();
            for (let i = 0; i < 6; i++) {
              seen.add(
                (await httpGet(port, "multi.example.com", "/whoami")).body,
              );
            }
            return seen.has("dg-host-a1 /") && seen.has("dg-host-b1 /")
              ? true
              : undefined;
          },
          30000,
          100,
        );

      await t.step("requests reach containers of both hosts", async () => {
        const label = { glue_http_80_host: "multi.example.com" };
        await run("dg-host-a1", { ...label, "dg-host": "a" }, "127.0.0.1::80");
        await run("dg-host-b1", { ...label, "dg-host": "b" }, "127.0.0.2::80");
        await bothHostsAnswer();
        // The file follows the runtime change once haproxy -c has passed.
        await waitFor(
          "the file to name host b's server",
          async () =>
            /server host-b\.dg-host-b1:80 127\.0\.0\.2:\d+ /.test(
                await Deno.readTextFile(config),
              )
              ? true
              : undefined,
          5000,
        );
      });

      await t.step(
        "a container started on one host is routed through the balancer",
        async () => {
          const start = performance.now();
          await run("dg-host-a2", {
            glue_http_80_host: "a2.example.com",
            "dg-host": "a",
          }, "127.0.0.1::80");
          await waitForBody(
            port,
            "a2.example.com",
            "/whoami",
            "dg-host-a2 /",
            30000,
          );
          console.log(
            `container start on a host to routed by the etcd-fed balancer: ${
              Math.round(performance.now() - start)
            } ms`,
          );
        },
      );

      await t.step(
        "routes --source etcd: both hosts' servers up, and a container whose port is not published",
        async () => {
          await docker(
            "run",
            "-d",
            "--name",
            "dg-host-a5",
            "-l",
            TEST_LABEL,
            "-l",
            "glue_http_80_host=a5.example.com",
            "-l",
            "dg-host=a",
            IMAGE,
          );
          const report = await waitFor(
            "routes to list dg-host-a5",
            async () => {
              const parsed = await readRoutes(common);
              return parsed.unrouted.some((r) => r.container === "dg-host-a5")
                ? parsed
                : undefined;
            },
            20000,
            500,
          );
          assertEquals(
            report.unrouted.find((r) => r.container === "dg-host-a5")?.reason,
            "not-published",
          );
          const multi = report.routes.find((r) =>
            r.host === "multi.example.com"
          );
          assertEquals(
            multi?.servers.map((s) => `${s.container} ${s.state}`),
            ["dg-host-a1@host-a up", "dg-host-b1@host-b up"],
          );
        },
      );

      await t.step(
        "etcd down and back: the balancer keeps routing, then catches up",
        async () => {
          const lost = balancer.count(/keeping the last known/);
          await etcd.pause();
          await balancer.waitForCount(
            /keeping the last known/,
            lost + 1,
            10000,
          );
          // The last known routes stay while etcd is away.
          assertEquals(
            (await httpGet(port, "a2.example.com", "/whoami")).body,
            "dg-host-a2 /",
          );
          await run("dg-host-a3", {
            glue_http_80_host: "a3.example.com",
            "dg-host": "a",
          }, "127.0.0.1::80");
          await etcd.resume();
          await waitForBody(
            port,
            "a3.example.com",
            "/whoami",
            "dg-host-a3 /",
            40000,
          );
        },
      );

      await t.step(
        "etcd restarted four times, cleanly and by crash: agents and balancer live on",
        async () => {
          for (
            const signal of [
              "SIGTERM",
              "SIGKILL",
              "SIGTERM",
              "SIGKILL",
            ] as const
          ) {
            const t0 = performance.now();
            const lost = balancer.count(/keeping the last known/);
            const reads = balancer.count(/Read \d+ containers from etcd/);
            await etcd.pause(signal);
            // The balancer has lost etcd before it comes back, so each
            // restart is one outage and one recovery.
            await balancer.waitForCount(
              /keeping the last known/,
              lost + 1,
              10000,
            );
            await etcd.resume();
            console.log(
              `etcd ${signal} and back up in ${
                Math.round(performance.now() - t0)
              } ms`,
            );
            // The leases outlive the restart, so no route went away.
            assertEquals(
              (await httpGet(port, "a2.example.com", "/whoami")).body,
              "dg-host-a2 /",
            );
            assertTrue((await Deno.readTextFile(config)).includes("host-b."));
            // The balancer reads etcd again before the next restart.
            await balancer.waitForCount(
              /Read \d+ containers from etcd/,
              reads + 1,
              20000,
            );
          }
          for (
            const [name, p] of [["balancer", balancer], ["agent a", glueA], [
              "agent b",
              glueB,
            ]] as const
          ) {
            assertEquals(
              p.exited,
              false,
              `${name} exited:\n${p.lines.slice(-5).join("\n")}`,
            );
          }
          const started = performance.now();
          await run("dg-host-a4", {
            glue_http_80_host: "a4.example.com",
            "dg-host": "a",
          }, "127.0.0.1::80");
          await waitForBody(
            port,
            "a4.example.com",
            "/whoami",
            "dg-host-a4 /",
            30000,
          );
          console.log(
            `after four etcd restarts: a new container routed in ${
              Math.round(performance.now() - started)
            } ms`,
          );
          await bothHostsAnswer();
        },
      );

      await t.step(
        "a frozen etcd is noticed, routes stay, and the balancer reads again after",
        async () => {
          const warned = balancer.count(
            /keeping the last known \d+ containers/,
          );
          const reads = balancer.count(/Read \d+ containers from etcd/);
          etcd.freeze(true);
          try {
            // Probe interval plus call timeout, with room to spare.
            await balancer.waitForCount(
              /keeping the last known \d+ containers/,
              warned + 1,
              25000,
            );
            assertEquals(
              (await httpGet(port, "a2.example.com", "/whoami")).body,
              "dg-host-a2 /",
            );
          } finally {
            etcd.freeze(false);
          }
          await balancer.waitForCount(
            /Read \d+ containers from etcd/,
            reads + 1,
            20000,
          );
          // Leases may have run out while etcd was frozen; the agents
          // publish again and both hosts come back.
          await bothHostsAnswer();
        },
      );

      await t.step(
        "killing one host's agent removes its routes within the TTL",
        async () => {
          glueB.kill("SIGKILL");
          const start = performance.now();
          await waitFor(
            "host b's server gone",
            async () =>
              (await Deno.readTextFile(config)).includes("host-b.")
                ? undefined
                : true,
            (HOSTS_TTL + 6) * 1000,
            100,
          );
          const took = (performance.now() - start) / 1000;
          console.log(
            `host b unrouted ${
              took.toFixed(1)
            } s after its agent died (TTL ${HOSTS_TTL} s)`,
          );
          // Its lease runs out at most the TTL after the kill (etcd looks
          // every 500 ms); the balancer then writes the file at once.
          assertTrue(
            took <= HOSTS_TTL + 1,
            `host b unrouted after ${took.toFixed(1)} s`,
          );
          await waitFor("only host a answering", async () => {
            for (let i = 0; i < 6; i++) {
              if (
                (await httpGet(port, "multi.example.com", "/whoami")).body !==
                  "dg-host-a1 /"
              ) return undefined;
            }
            return true;
          });
        },
      );
    }),
});

Deno.test({
  ...opts,
  name:
    "e2e etcd: docker-balancer -1 --source etcd renders from etcd without a Docker engine",
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
      // A Docker URL this binary may not even reach: nothing may ask it.
      const run = await runBalancer([
        "-1",
        "--dry-run",
        "--source",
        "etcd",
        "--etcd-prefix",
        prefix,
        "--docker-url",
        "tcp://127.0.0.1:1",
      ]);
      assertEquals(run.code, 0, run.stderr);
      assertTrue(
        /server hb\.remote-web:80 127\.0\.0\.1:32080 /.test(run.stdout),
        run.stdout,
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
    "e2e etcd: SIGHUP with an etcd-fed HAProxy handler leaves one HAProxy with its sockets, routing, and changed through the runtime API",
  fn: () =>
    withCleanup(async (cleanup) => {
      await ensureImage();
      await removeContainers("dg-hup-web");
      cleanup.defer("container", () => removeContainers("dg-hup-web"));
      const etcd = cleanup.add("etcd", await TestEtcd.start(), (e) => e.stop());
      const prefix = `/dgt-${crypto.randomUUID().slice(0, 8)}`;
      await run("dg-hup-web", {}, "127.0.0.1::80");
      const published = Number(
        (await docker("port", "dg-hup-web", "80/tcp")).trim().split(":").pop(),
      );
      const record = container(
        "remote-web",
        labels({ glue_http_80_host: "hup.example.com" }),
        publishes("80/tcp", published),
      );
      const put = (name: string, host: string) =>
        etcd.put(
          containerKey(prefix, "hb", `${record.id}${name}`),
          JSON.stringify(
            containerDocument(
              {
                ...record,
                id: `${record.id}${name}`,
                name,
                labels: { glue_http_80_host: host },
              },
              "hb",
              "127.0.0.1",
            ),
          ),
        );
      await put("one", "hup.example.com");
      const conf = await testHaproxyDir(cleanup);
      const port = freePort();
      const dir = await testTempDir(cleanup, "docker-glue-lb-");
      await Deno.writeTextFile(
        `${dir}/lb.ini`,
        [
          "[handler]",
          "class=DockerGlue.handlers.lb.HAProxyHandler",
          "events=none,start,die",
          "[params]",
          "source=etcd",
          "etcd_endpoints=http://127.0.0.1:2379",
          `etcd_prefix=${prefix}`,
          "haproxy=managed",
          `config_file=${conf.config}`,
          `http_bind=127.0.0.1:${port}`,
          `stats_socket=${ADMIN_SOCKET}`,
          "stats_bind=",
          "",
        ].join("\n"),
      );
      const glue = stopsCleanly(
        cleanup,
        "docker-glue",
        startGlue(["-w", "--handler-paths", dir]),
      );
      await waitForBody(port, "hup.example.com", "/whoami", "dg-hup-web /");
      // The master does not answer while it re-executes for a reload.
      const master = () =>
        waitFor(
          "HAProxy's master to answer",
          async () => await masterProc() ?? undefined,
          5000,
        );
      const first = await master();

      glue.kill("SIGHUP");
      await glue.waitForLine(/Running 1 handlers/);
      await waitForBody(port, "hup.example.com", "/whoami", "dg-hup-web /");
      // The replaced handler stopped its HAProxy before the new one started
      // its own, and removed no socket of the new one's.
      assertEquals(
        glue.lines.filter((line) => line.includes("left running")),
        [],
      );
      const now = await master();
      assertTrue(
        now.master !== first.master,
        `a new master: ${JSON.stringify([first, now])}\n${
          glue.lines.join("\n")
        }`,
      );
      await Deno.stat(ADMIN_SOCKET);
      // The new HAProxy is driven through its admin socket.
      const reloads = now.reloads;
      await put("two", "two.example.com");
      await waitForBody(port, "two.example.com", "/whoami", "dg-hup-web /");
      assertEquals((await master()).reloads, reloads);
    }),
});
