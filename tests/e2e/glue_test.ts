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
  createNetwork,
  docker,
  ensureImage,
  freePort,
  haproxyDir,
  httpGet,
  IMAGE,
  parseResponse,
  removeContainers,
  ROOT,
  runContainer,
  runGlue,
  startGlue,
  startHaproxy,
  tcpExchange,
  TEST_LABEL,
  waitFor,
} from "./_harness.ts";
import { VERSION } from "../../lib/version.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const TEST_LOG = "/tmp/docker-glue-test.log";

async function handlerDir(
  files: Record<string, string>,
): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await Deno.makeTempDir({ prefix: "docker-glue-handlers-" });
  for (const [name, text] of Object.entries(files)) {
    await Deno.writeTextFile(`${path}/${name}`, text);
  }
  return { path, remove: () => Deno.remove(path, { recursive: true }) };
}

const example = (name: string) =>
  Deno.readTextFileSync(`${ROOT}docker-glue.d/${name}.ini.example`);

/** The events test-handler.sh logged for one container, in order. */
async function loggedEvents(id: string): Promise<string[]> {
  const text = await Deno.readTextFile(TEST_LOG).catch(() => "");
  return text.split("\n").filter((l) => l.includes(`container_id=[${id}]`)).map(
    (l) => /event=\[([^\]]*)\]/.exec(l)?.[1] ?? "?",
  );
}

function isSubsequence(wanted: string[], seen: string[]): boolean {
  let i = 0;
  for (const event of seen) if (event === wanted[i]) i++;
  return i === wanted.length;
}

Deno.test({
  ...opts,
  name:
    "e2e glue: test.ini logs each event in order; a TypeScript plugin sees them too",
  async fn() {
    await ensureImage();
    await removeContainers("dg-glue-events");
    const output = await Deno.makeTempFile({ suffix: ".jsonl" });
    const dir = await handlerDir({
      "test.ini": example("test"),
      "demo.ini":
        `[handler]\nclass=${ROOT}examples/plugins/demo_handler.ts:DemoHandler\nevents=none,start,die\n\n[params]\ncustom_param=hello\noutput=${output}\n`,
    });
    // The plugin writes a file: a permission docker-glue does not have unless
    // its binary is built with it.
    const glue = startGlue(["-w", "--handler-paths", dir.path], [
      `--allow-write=${output}`,
    ]);
    try {
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
        async () => (await loggedEvents(id)).includes("start") || undefined,
      );
      await docker("stop", "-t", "1", id);
      await docker("rm", id);
      await waitFor(
        "destroy to be logged",
        async () => (await loggedEvents(id)).includes("destroy") || undefined,
      );
      const events = await loggedEvents(id);
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
    } finally {
      assertEquals(
        (await glue.stop()).code,
        0,
        glue.lines.slice(-10).join("\n"),
      );
      await removeContainers("dg-glue-events");
      await dir.remove();
      await Deno.remove(output);
    }
  },
});

Deno.test({
  ...opts,
  name: "e2e glue: SIGHUP reloads the handler files without a restart",
  async fn() {
    const output = await Deno.makeTempFile({ suffix: ".jsonl" });
    const dir = await handlerDir({ "test.ini": example("test") });
    const glue = startGlue(["-w", "--handler-paths", dir.path], [
      `--allow-write=${output}`,
    ]);
    try {
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
      await waitFor(
        "the second reload",
        () =>
          Promise.resolve(
            glue.count(/Running 2 handlers/) === 2 ? true : undefined,
          ),
      );
    } finally {
      const status = await glue.stop();
      await dir.remove();
      await Deno.remove(output);
      assertEquals(status.code, 0, glue.lines.slice(-10).join("\n"));
    }
  },
});

Deno.test({
  ...opts,
  name:
    "e2e glue: a hanging script is killed after its timeout; later events are still handled",
  async fn() {
    await ensureImage();
    const scripts = await Deno.makeTempDir();
    await Deno.writeTextFile(`${scripts}/hang.sh`, "#!/bin/sh\nsleep 600\n", {
      mode: 0o755,
    });
    await Deno.chmod(`${scripts}/hang.sh`, 0o755);
    const dir = await handlerDir({
      "hang.ini":
        "[handler]\nclass=DockerGlue.handlers.exec.ScriptHandler\nevents=start,die\n[params]\nscript=hang.sh\ntimeout=1\n",
      "test.ini": example("test"),
    });
    const glue = startGlue([
      "-w",
      "--handler-paths",
      dir.path,
      "--script-paths",
      `${scripts}:${ROOT}handler-scripts`,
    ]);
    try {
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
        async () => (await loggedEvents(id)).includes("start") || undefined,
        5000,
      );
      await glue.waitForLine(/Script hang\.sh .* killed on start/, 10000);
      await docker("rm", "-f", id);
      await glue.waitForLine(/Script hang\.sh .* killed on die/, 10000);
      await waitFor(
        "destroy logged",
        async () => (await loggedEvents(id)).includes("destroy") || undefined,
      );
    } finally {
      const status = await glue.stop();
      await removeContainers("dg-glue-hang");
      await dir.remove();
      await Deno.remove(scripts, { recursive: true });
      assertEquals(status.code, 0, glue.lines.slice(-10).join("\n"));
    }
  },
});

Deno.test({
  ...opts,
  name:
    "e2e glue: lb.ini routes labelled HTTP and TCP containers through a real HAProxy",
  async fn() {
    await ensureImage();
    const net = await createNetwork("docker-glue-test-glue");
    const conf = await haproxyDir();
    const port = freePort();
    const tcpPort = freePort();
    const lbIni = (reload: string) =>
      example("lb")
        .replace(/^config_file=.*$/m, `config_file=${conf.config}`)
        .replace(/^reload_cmd=.*$/m, `reload_cmd=${reload}`)
        .replace(/^; http_bind=.*$/m, `http_bind=127.0.0.1:${port}`)
        .replace(/^; stats_bind=.*$/m, "stats_bind=")
        .replace(/^; stats_socket=.*$/m, `stats_socket=${conf.path}/admin.sock`)
        .replace(/^; tcp_bind_address=.*$/m, "tcp_bind_address=127.0.0.1");
    const dir = await handlerDir({ "lb.ini": lbIni("") });
    const first = await runGlue(["-1", "--handler-paths", dir.path]);
    assertEquals(first.code, 0, first.stderr);
    const haproxy = startHaproxy(conf.config);
    await Deno.writeTextFile(
      `${dir.path}/lb.ini`,
      lbIni(`kill -USR2 ${haproxy.pid}`),
    );
    const glue = startGlue(["-w", "--handler-paths", dir.path]);
    try {
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
    } finally {
      const status = await glue.stop();
      await haproxy.stop();
      await removeContainers("dg-glue-lb", "dg-glue-tcp");
      await net.remove();
      await dir.remove();
      await conf.remove();
      assertEquals(status.code, 0, glue.lines.slice(-10).join("\n"));
    }
  },
});

Deno.test({
  ...opts,
  name: "e2e glue: --check lists every problem with its file and exits 1",
  async fn() {
    const good = await handlerDir({
      "test.ini": example("test"),
      "notes.ini.example": "garbage",
    });
    const bad = await handlerDir({
      "a.ini": "[handler]\nclass=Nope\nevents=all\n",
      "b.ini": "\u0000\u0001",
      "c.ini":
        "[handler]\nclass=script\nevents=all\n[params]\nscript=missing.sh\n",
      "d.ini": example("test"),
    });
    try {
      const ok = await runGlue(["--check", "--handler-paths", good.path]);
      assertEquals(ok.code, 0, ok.stdout + ok.stderr);
      assertIncludes(ok.stdout, "1 loaded, 0 disabled, 0 problems");
      const broken = await runGlue(["--check", "--handler-paths", bad.path]);
      assertEquals(broken.code, 1);
      assertIncludes(
        broken.stdout,
        `error: ${bad.path}/a.ini: unknown handler class "Nope"`,
      );
      assertIncludes(
        broken.stdout,
        `error: ${bad.path}/b.ini: not a text file`,
      );
      assertIncludes(
        broken.stdout,
        `warning: ${bad.path}/c.ini: script "missing.sh"`,
      );
      assertIncludes(broken.stdout, "1 loaded, 0 disabled, 3 problems");
      // Outside --check the same set starts with the one good handler.
      const once = await runGlue(["-1", "--handler-paths", bad.path]);
      assertEquals(once.code, 0, once.stderr);
      assertIncludes(once.stderr, `${bad.path}/a.ini: unknown handler class`);
    } finally {
      await good.remove();
      await bad.remove();
    }
  },
});

Deno.test({
  ...opts,
  name: "e2e glue: --version, usage errors and an empty handler path",
  async fn() {
    assertEquals((await runGlue([])).code, 2);
    const version = await runGlue(["--version"]);
    assertEquals([version.code, version.stdout], [0, VERSION]);
    assertEquals((await runGlue(["-1", "-w"])).code, 2);
    const empty = await handlerDir({});
    try {
      const none = await runGlue(["-1", "--handler-paths", empty.path]);
      assertEquals(none.code, 1);
      assertIncludes(none.stderr, "no handler loaded");
    } finally {
      await empty.remove();
    }
  },
});
