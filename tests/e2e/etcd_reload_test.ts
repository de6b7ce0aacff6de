/**
 * docker-glue's HAProxy handler fed from etcd, through a SIGHUP: the old
 * handler's HAProxy stops before the new one starts.
 */

import { assertEquals, assertTrue } from "../_fixtures/assert.ts";
import { TestEtcd } from "./_etcd.ts";
import { container, labels, publishes } from "../_fixtures/containers.ts";
import { containerDocument, containerKey } from "../../lib/sources/document.ts";
import {
  ADMIN_SOCKET,
  docker,
  ensureImage,
  freePort,
  masterProc,
  removeContainers,
  startGlue,
  stopsCleanly,
  testHaproxyDir,
  testTempDir,
  waitFor,
  waitForBody,
} from "./_harness.ts";
import { withCleanup } from "../_fixtures/cleanup.ts";
import { opts, run } from "./_etcd.ts";

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
