/**
 * docker-glue end to end: real Docker engine, the shipped INI examples and
 * handler scripts, a TypeScript plugin loaded by path, and the HAProxy
 * handler with a real HAProxy.
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
  httpGet,
  IMAGE,
  parseResponse,
  removeContainers,
  ROOT,
  runContainer,
  runGlue,
  startGlue,
  startHaproxy,
  stopsCleanly,
  tcpExchange,
  TEST_LABEL,
  testHaproxyDir,
  testNetwork,
  testTempDir,
  testTempFile,
  waitFor,
} from "./_harness.ts";
import { withCleanup } from "../_fixtures/cleanup.ts";
import { notRunning } from "../_fixtures/process.ts";
import {
  example,
  handlerDir,
  isSubsequence,
  loggedEvents,
  opts,
  testIni,
} from "./_glue.ts";

Deno.test({
  ...opts,
  name:
    "e2e glue: test.ini logs each event in order; a TypeScript plugin sees them too",
  fn: () =>
    withCleanup(async (cleanup) => {
      await ensureImage();
      await removeContainers("dg-glue-events");
      cleanup.defer("container", () => removeContainers("dg-glue-events"));
      const output = await testTempFile(cleanup, ".jsonl");
      const log = await testTempFile(cleanup, ".log");
      const dir = await handlerDir(cleanup, {
        "test.ini": testIni(log),
        "demo.ini":
          `[handler]\nclass=${ROOT}examples/plugins/demo_handler.ts:DemoHandler\nevents=none,start,die\n\n[params]\ncustom_param=hello\noutput=${output}\n`,
      });
      // The plugin writes a file: a permission docker-glue does not have unless
      // its binary is built with it.
      const glue = stopsCleanly(
        cleanup,
        "docker-glue",
        startGlue(["-w", "--handler-paths", dir.path], [
          `--allow-write=${output}`,
        ]),
      );
      await glue.waitForLine(/watching unix:.* with 2 handlers/);
      const id = await docker(
        "create",
        "--name",
        "dg-glue-events",
        "-l",
        TEST_LABEL,
        "-e",
        "NAME=x",
        IMAGE,
      );
      await docker("start", id);
      await waitFor(
        "start to be logged",
        async () =>
          (await loggedEvents(log, id)).includes("start") || undefined,
      );
      await docker("stop", "-t", "1", id);
      await docker("rm", id);
      await waitFor(
        "destroy to be logged",
        async () =>
          (await loggedEvents(log, id)).includes("destroy") || undefined,
      );
      const events = await loggedEvents(log, id);
      assertTrue(
        isSubsequence(
          ["create", "start", "kill", "die", "stop", "destroy"],
          events,
        ),
        events.join(","),
      );
      const demo = (await Deno.readTextFile(output)).trim().split("\n").map((
        l,
      ) => JSON.parse(l));
      assertEquals(demo[0]?.event, "none");
      assertEquals(
        demo.filter((d) => d.containerId === id).map((
          d,
        ) => [d.event, d.name, d.customParam]),
        // At start the inventory has the container; after die it has gone.
        [["start", "dg-glue-events", "hello"], ["die", null, "hello"]],
      );
    }),
});

Deno.test({
  ...opts,
  name: "e2e glue: SIGHUP reloads the handler files without a restart",
  fn: () =>
    withCleanup(async (cleanup) => {
      const output = await testTempFile(cleanup, ".jsonl");
      const log = await testTempFile(cleanup, ".log");
      const dir = await handlerDir(cleanup, { "test.ini": testIni(log) });
      const glue = stopsCleanly(
        cleanup,
        "docker-glue",
        startGlue(["-w", "--handler-paths", dir.path], [
          `--allow-write=${output}`,
        ]),
      );
      await glue.waitForLine(/with 1 handlers/);
      await Deno.writeTextFile(
        `${dir.path}/demo.ini`,
        `[handler]\nclass=${ROOT}examples/plugins/demo_handler.ts:DemoHandler\nevents=none,start\n[params]\noutput=${output}\n`,
      );
      glue.kill("SIGHUP");
      await glue.waitForLine(/Running 2 handlers/);
      await waitFor(
        "the new handler's none",
        async () =>
          (await Deno.readTextFile(output)).includes('"event":"none"')
            ? true
            : undefined,
      );
      // A broken file on the next reload is reported; the good ones keep running.
      await Deno.writeTextFile(
        `${dir.path}/broken.ini`,
        "[handler]\nclass=Nope\nevents=all\n",
      );
      glue.kill("SIGHUP");
      await glue.waitForLine(/broken\.ini: unknown handler class/);
      // The second reload.
      await glue.waitForCount(/Running 2 handlers/, 2);
    }),
});

Deno.test({
  ...opts,
  name:
    "e2e glue: a hanging script and what it started are killed after its timeout; later events are still handled",
  fn: () =>
    withCleanup(async (cleanup) => {
      await ensureImage();
      await removeContainers("dg-glue-hang");
      cleanup.defer("container", () => removeContainers("dg-glue-hang"));
      const scripts = await testTempDir(cleanup, "docker-glue-scripts-");
      // It records its own pid and its child's, per event, then waits. The
      // child lets go of the script's output, as a daemon would, so only a
      // kill of the whole group ends it.
      await Deno.writeTextFile(
        `${scripts}/hang.sh`,
        `#!/bin/sh\nsleep 600 >/dev/null 2>&1 &\necho "$2 $$ $!" >> '${scripts}/pids'\nwait\n`,
      );
      await Deno.chmod(`${scripts}/hang.sh`, 0o755);
      const log = `${scripts}/events.log`;
      const dir = await handlerDir(cleanup, {
        "hang.ini":
          "[handler]\nclass=DockerGlue.handlers.exec.ScriptHandler\nevents=start,die\n[params]\nscript=hang.sh\ntimeout=1\n",
        "test.ini": testIni(log),
      });
      const glue = stopsCleanly(
        cleanup,
        "docker-glue",
        startGlue([
          "-w",
          "--handler-paths",
          dir.path,
          "--script-paths",
          `${scripts}:${ROOT}handler-scripts`,
        ]),
      );
      /** The script's pid and its child's for `event`, once it has run. */
      const pidsOf = (event: string) =>
        waitFor(`hang.sh to run on ${event}`, async () => {
          const text = await Deno.readTextFile(`${scripts}/pids`).catch(() =>
            ""
          );
          const line = text.split("\n").find((l) => l.startsWith(`${event} `));
          return line?.split(" ").slice(1).map(Number);
        }, 5000);
      /** Waits until none of `pids` runs (gone, or a zombie awaiting its parent). */
      const killed = (pids: number[], within: number) =>
        waitFor(
          `processes ${pids.join(", ")} to be killed`,
          async () => {
            for (const pid of pids) {
              if (!(await notRunning(pid))) return undefined;
            }
            return true;
          },
          within,
          50,
        );
      await glue.waitForLine(/with 2 handlers/);
      const id = await docker(
        "run",
        "-d",
        "--name",
        "dg-glue-hang",
        "-l",
        TEST_LABEL,
        "-e",
        "NAME=x",
        IMAGE,
      );
      // The other handler is not held up by the hanging one.
      await waitFor(
        "start logged",
        async () =>
          (await loggedEvents(log, id)).includes("start") || undefined,
        5000,
      );
      // Killed after its 1 s timeout, script and child both (a SIGTERM,
      // then SIGKILL after a grace period).
      const onStart = await pidsOf("start");
      await killed(onStart, 5000);
      await glue.waitForLine(/Script hang\.sh .* killed on start/, 10000);
      await docker("rm", "-f", id);
      await killed(await pidsOf("die"), 5000);
      await glue.waitForLine(/Script hang\.sh .* killed on die/, 10000);
      await waitFor(
        "destroy logged",
        async () =>
          (await loggedEvents(log, id)).includes("destroy") || undefined,
      );
    }),
});

Deno.test({
  ...opts,
  name:
    "e2e glue: lb.ini routes labelled HTTP and TCP containers through a real HAProxy",
  fn: () =>
    withCleanup(async (cleanup) => {
      await ensureImage();
      await removeContainers("dg-glue-lb", "dg-glue-tcp");
      const net = await testNetwork(cleanup, "docker-glue-test-glue");
      const conf = await testHaproxyDir(cleanup);
      const port = freePort();
      const tcpPort = freePort();
      const lbIni = (reload: string) =>
        example("lb")
          .replace(/^config_file=.*$/m, `config_file=${conf.config}`)
          .replace(/^reload_cmd=.*$/m, `reload_cmd=${reload}`)
          .replace(/^; http_bind=.*$/m, `http_bind=127.0.0.1:${port}`)
          .replace(/^; stats_bind=.*$/m, "stats_bind=")
          .replace(
            /^; stats_socket=.*$/m,
            `stats_socket=${conf.path}/admin.sock`,
          )
          .replace(/^; tcp_bind_address=.*$/m, "tcp_bind_address=127.0.0.1");
      const dir = await handlerDir(cleanup, { "lb.ini": lbIni("") });
      const first = await runGlue(["-1", "--handler-paths", dir.path]);
      assertEquals(first.code, 0, first.stderr);
      const haproxy = cleanup.add(
        "HAProxy",
        startHaproxy(conf.config),
        (h) => h.stop(),
      );
      await Deno.writeTextFile(
        `${dir.path}/lb.ini`,
        lbIni(`kill -USR2 ${haproxy.pid}`),
      );
      const glue = stopsCleanly(
        cleanup,
        "docker-glue",
        startGlue(["-w", "--handler-paths", dir.path]),
      );
      await glue.waitForLine(/with 1 handlers/);
      await docker(
        "run",
        "-d",
        "--name",
        "dg-glue-lb",
        "--network",
        net.name,
        "-l",
        TEST_LABEL,
        "-l",
        "glue_http_80_host=glue.example.com",
        "-e",
        "NAME=dg-glue-lb",
        IMAGE,
      );
      await waitFor("glue.example.com routed", async () => {
        const res = await httpGet(port, "glue.example.com", "/whoami");
        return res.body === "dg-glue-lb /" ? true : undefined;
      });
      assertIncludes(
        glue.lines.join("\n"),
        "Container dg-glue-lb: routed glue.example.com/",
      );
      // TCP routes come from the same handler.
      await runContainer("dg-glue-tcp", {
        network: net.name,
        labels: { glue_tcp_ports: "80", glue_tcp_80_listen: String(tcpPort) },
      });
      await waitFor("TCP port routed", async () => {
        const text = await tcpExchange(tcpPort, "GET /whoami HTTP/1.0\r\n\r\n");
        return parseResponse(text).body === "dg-glue-tcp /" ? true : undefined;
      });
    }),
});
