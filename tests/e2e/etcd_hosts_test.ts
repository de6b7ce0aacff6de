/**
 * Two agents on one Docker engine stand for two hosts (each publishes only
 * the containers carrying its `dg-host` label, under its own host id and
 * advertise address) and one balancer routes to both through a real
 * HAProxy; a dead host's routes go.
 */

import {
  assertEquals,
  assertExcludes,
  assertIncludes,
  assertTrue,
} from "../_fixtures/assert.ts";
import { container, labels, publishes } from "../_fixtures/containers.ts";
import { containerDocument, containerKey } from "../../lib/sources/document.ts";
import { TestEtcd } from "./_etcd.ts";
import {
  docker,
  ensureImage,
  freePort,
  httpGet,
  IMAGE,
  readRoutes,
  removeContainers,
  startBalancerWithHaproxy,
  startGlue,
  stopAtEnd,
  stopsCleanly,
  TEST_LABEL,
  testHaproxyDir,
  waitFor,
  waitForBody,
} from "./_harness.ts";
import { withCleanup } from "../_fixtures/cleanup.ts";
import { handlerDir, HOSTS_TTL, opts, run } from "./_etcd.ts";

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
        "dg-host-a6",
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
            /server host-b:dg-host-b1:80 127\.0\.0\.2:\d+ /.test(
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
        "a document whose address is a host name is refused alone; a container started after it is routed within 1 s",
        async () => {
          // Before issue 31 HAProxy was handed the name: haproxy -c could
          // not resolve it and no configuration was installed any more.
          const evil = container(
            "dg-host-evil",
            labels({ glue_http_80_host: "evil.example.com" }),
            publishes("80/tcp", 32080),
          );
          const key = containerKey(prefix, "host-evil", evil.id);
          cleanup.defer("the hostile document", () => etcd.delete(key));
          await etcd.put(
            key,
            JSON.stringify(
              containerDocument(evil, "host-evil", "no-such-host.invalid"),
            ),
          );
          const refused = await balancer.waitForLine(
            new RegExp(`${key}.*advertiseAddress`),
          );
          assertIncludes(refused, "expected an IP address");
          await run("dg-host-a6", {
            glue_http_80_host: "a6.example.com",
            "dg-host": "a",
          }, "127.0.0.1::80");
          const wait = await waitForBody(
            port,
            "a6.example.com",
            "/whoami",
            "dg-host-a6 /",
            5000,
          );
          console.log(
            `beside a host-name document, docker run returned to routed through etcd: ${
              Math.round(wait)
            } ms`,
          );
          assertTrue(wait < 1000, `${Math.round(wait)} ms`);
          assertExcludes(await Deno.readTextFile(config), "no-such-host");
          await etcd.delete(key);
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
            assertTrue((await Deno.readTextFile(config)).includes("host-b:"));
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
              (await Deno.readTextFile(config)).includes("host-b:")
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
