/**
 * TCP balancing end to end: containers labelled glue_tcp_ports behind a real
 * HAProxy in mode tcp. busybox httpd is spoken to as a plain TCP service: the
 * bytes of a request go through HAProxy untouched and the answer names the
 * container.
 */

import {
  assertEquals,
  assertIncludes,
  assertTrue,
} from "../_fixtures/assert.ts";
import {
  docker,
  ensureImage,
  freePort,
  masterReloads,
  parseResponse,
  removeContainers,
  runContainer,
  startBalancerWithHaproxy,
  tcpExchange,
  testHaproxyDir,
  testNetwork,
  waitFor,
} from "./_harness.ts";
import { withCleanup } from "../_fixtures/cleanup.ts";

const REQUEST = "GET /whoami HTTP/1.0\r\n\r\n";

async function whoami(port: number): Promise<string> {
  return parseResponse(await tcpExchange(port, REQUEST)).body;
}

Deno.test({
  name:
    "e2e tcp: connections through HAProxy reach the containers, split by weight",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: (t) =>
    withCleanup(async (cleanup) => {
      await ensureImage();
      const names = ["dg-tcp-a", "dg-tcp-b", "dg-tcp-other"];
      await removeContainers(...names);
      const net = await testNetwork(cleanup, "docker-glue-test-tcp");
      const dir = await testHaproxyDir(cleanup);
      const config = dir.config;
      const listen = freePort();
      const common = [
        ...dir.listenArgs(freePort()),
        "--tcp-bind-address",
        "127.0.0.1",
      ];
      const { balancer } = await startBalancerWithHaproxy(
        cleanup,
        config,
        common,
      );
      await balancer.waitForLine(/watching unix:/);
      const tcp = (weight: string) => ({
        glue_tcp_ports: "80",
        glue_tcp_80_listen: String(listen),
        glue_tcp_80_weight: weight,
      });
      await runContainer("dg-tcp-a", { network: net.name, labels: tcp("3") });
      await runContainer("dg-tcp-b", { network: net.name, labels: tcp("1") });

      await t.step("a connection reaches a container", async () => {
        await waitFor("both servers routed", async () => {
          const text = await Deno.readTextFile(config);
          return text.includes("server dg-tcp-a:80") &&
              text.includes("server dg-tcp-b:80")
            ? true
            : undefined;
        });
        await waitFor(
          "TCP answers",
          async () => (await whoami(listen)).startsWith("dg-tcp-") || undefined,
        );
        assertIncludes(
          await Deno.readTextFile(config),
          `bind 127.0.0.1:${listen}`,
        );
      });

      await t.step(
        "weights 3 and 1 split 400 connections close to 3:1",
        async () => {
          // Let HAProxy's first health checks pass after the reload.
          await waitFor("both answering", async () => {
            const seen = new Set<string>();
            for (let i = 0; i < 8; i++) {
              seen.add(await whoami(listen));
            }
            return seen.size === 2 ? true : undefined;
          });
          const counts: Record<string, number> = {};
          for (let i = 0; i < 400; i++) {
            const body = await whoami(listen);
            counts[body] = (counts[body] ?? 0) + 1;
          }
          const a = counts["dg-tcp-a /"] ?? 0;
          const b = counts["dg-tcp-b /"] ?? 0;
          console.log(`TCP weights 3:1 over 400 connections: a=${a} b=${b}`);
          assertEquals(a + b, 400, JSON.stringify(counts));
          assertTrue(a / b > 2.5 && a / b < 3.5, JSON.stringify(counts));
        },
      );

      await t.step(
        "another service on the same listen port is reported and left out",
        async () => {
          await runContainer("dg-tcp-other", {
            network: net.name,
            port: 8080,
            labels: {
              glue_tcp_ports: "8080",
              glue_tcp_8080_listen: String(listen),
            },
          });
          const line = await balancer.waitForLine(
            /Container dg-tcp-other: label glue_tcp_8080_listen/,
          );
          assertIncludes(line, "dg-tcp-a");
          assertEquals(
            (await Deno.readTextFile(config)).includes("dg-tcp-other"),
            false,
          );
        },
      );

      await t.step(
        "a stopped server leaves the TCP backend without a reload",
        async () => {
          const reloads = await masterReloads();
          await docker("rm", "-f", "dg-tcp-a");
          // The file is written once HAProxy has the change, by either path.
          await waitFor(
            "the file without dg-tcp-a",
            async () =>
              (await Deno.readTextFile(config)).includes("dg-tcp-a")
                ? undefined
                : true,
          );
          assertEquals(await masterReloads(), reloads);
          await waitFor("only dg-tcp-b answering", async () => {
            for (let i = 0; i < 10; i++) {
              const body = await whoami(listen).catch(() => "");
              if (body !== "dg-tcp-b /") return undefined;
            }
            return true;
          });
        },
      );
    }),
});
