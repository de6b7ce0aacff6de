import {
  assertEquals,
  assertIncludes,
  assertRejects,
  assertTrue,
} from "../_fixtures/assert.ts";
import { notRunning, processState } from "../_fixtures/process.ts";
import { Agent } from "../../lib/agent/agent.ts";
import { ReportedError } from "../../lib/util/reported_error.ts";
import { HandlerDisabledError } from "../../lib/agent/base_handler.ts";
import { parseHandlerIni } from "../../lib/agent/handler_ini.ts";
import { connectDocker } from "../../lib/docker/client.ts";
import { ScriptHandler } from "../../handlers/exec.ts";

const SCRIPTS = new URL("../../handler-scripts", import.meta.url).pathname;

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function script(
  dir: string,
  name: string,
  body: string,
): Promise<string> {
  const path = `${dir}/${name}`;
  await Deno.writeTextFile(path, `#!/bin/sh\n${body}\n`);
  await Deno.chmod(path, 0o755);
  return path;
}

async function handler(
  dir: string,
  params: string,
  scriptPaths = [dir],
): Promise<ScriptHandler> {
  const iniFile = `${dir}/h.ini`;
  await Deno.writeTextFile(
    iniFile,
    `[handler]\nclass=script\nevents=all\n[params]\n${params}\n`,
  );
  const agent = new Agent(connectDocker("unix:///nonexistent.sock"), {
    dockerUrl: "unix:///nonexistent.sock",
    scriptPaths,
  });
  const h = new ScriptHandler(
    agent,
    iniFile,
    parseHandlerIni(iniFile, await Deno.readTextFile(iniFile)),
  );
  await h.init();
  return h;
}

Deno.test("script: gets ini path, event and container id as argv, never through a shell", async () => {
  await withDir(async (dir) => {
    await script(
      dir,
      "args.sh",
      `for a in "$@"; do printf '%s\\n' "$a"; done > "${dir}/args"`,
    );
    const h = await handler(dir, "script=args.sh");
    const hostile =
      `abc; touch ${dir}/pwned $(touch ${dir}/pwned2) \`touch ${dir}/pwned3\``;
    await h.handle("start", hostile);
    assertEquals(
      await Deno.readTextFile(`${dir}/args`),
      `${dir}/h.ini\nstart\n${hostile}\n`,
    );
    for (const name of ["pwned", "pwned2", "pwned3"]) {
      await Deno.stat(`${dir}/${name}`).then(
        () => assertTrue(false, `${name} exists: a shell ran`),
        () => {},
      );
    }
  });
});

Deno.test("script: a hung script and what it started are killed after the timeout", async () => {
  await withDir(async (dir) => {
    await script(dir, "hang.sh", `sleep 30 & echo $! > "${dir}/child"; wait`);
    const h = await handler(dir, "script=hang.sh\ntimeout=0.5");
    const start = Date.now();
    await assertRejects(() => h.handle("start", "c1"), ReportedError);
    assertTrue(Date.now() - start < 5000, `took ${Date.now() - start} ms`);
    const child = Number(await Deno.readTextFile(`${dir}/child`));
    // Gone, or a zombie waiting to be reaped by init: either way not
    // running, within a moment of the kill.
    const deadline = Date.now() + 2000;
    while (!(await notRunning(child)) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assertTrue(
      await notRunning(child),
      `the script's child ${child} is in state ${await processState(child)}`,
    );
  });
});

Deno.test("script: a non-zero exit fails the event", async () => {
  await withDir(async (dir) => {
    await script(dir, "fail.sh", "echo broken >&2; exit 4");
    const h = await handler(dir, "script=fail.sh");
    await assertRejects(() => h.handle("die", "c1"), ReportedError);
  });
});

Deno.test("script: megabytes of output do not block it", async () => {
  await withDir(async (dir) => {
    await script(
      dir,
      "loud.sh",
      "head -c 4000000 /dev/zero; head -c 4000000 /dev/zero >&2; echo done > " +
        dir + "/done",
    );
    const h = await handler(dir, "script=loud.sh\ntimeout=20");
    await h.handle("start", "c1");
    assertEquals(await Deno.readTextFile(`${dir}/done`), "done\n");
  });
});

Deno.test("script: a missing script disables the handler; a bad timeout or concurrency is an error", async () => {
  await withDir(async (dir) => {
    await assertRejects(
      () => handler(dir, "script=nope.sh"),
      HandlerDisabledError,
      "nope.sh",
    );
    await script(dir, "ok.sh", "true");
    await assertRejects(
      () => handler(dir, "script=ok.sh\ntimeout=soon"),
      TypeError,
      "timeout",
    );
    for (const bad of ["0", "-1", "two", "1.5", "1000"]) {
      await assertRejects(
        () => handler(dir, `script=ok.sh\nconcurrency=${bad}`),
        TypeError,
        "[params] concurrency: expected a whole number from 1 to 999",
      );
    }
    assertEquals(
      (await handler(dir, "script=ok.sh\nconcurrency=1")).concurrency,
      1,
    );
    assertEquals((await handler(dir, "script=ok.sh")).concurrency, 4);
    await assertRejects(() => handler(dir, "demo=1"), TypeError, "script=");
  });
});

Deno.test("test-handler.sh logs event, container id and demo-option to its log-file", async () => {
  await withDir(async (dir) => {
    const h = await handler(
      dir,
      `script=test-handler.sh\ndemo-option=some value\nlog-file=${dir}/events.log`,
      [SCRIPTS],
    );
    const id = `test-${crypto.randomUUID()}`;
    await h.handle("start", id);
    const log = await Deno.readTextFile(`${dir}/events.log`);
    const line = log.split("\n").find((l) => l.includes(id)) ?? "";
    assertIncludes(
      line,
      `container_id=[${id}] event=[start] demo-option=[some value]`,
    );
    assertTrue(/^\d{4}-\d\d-\d\d /.test(line), line);
  });
});

Deno.test("script: deleted or made non-executable while running: that event fails, later ones work", async () => {
  await withDir(async (dir) => {
    const path = await script(dir, "flaky.sh", `echo "$2" >> "${dir}/events"`);
    const h = await handler(dir, "script=flaky.sh");
    await h.handle("start", "c1");
    await Deno.remove(path);
    await assertRejects(() => h.handle("die", "c1"), ReportedError);
    await script(dir, "flaky.sh", `echo "$2" >> "${dir}/events"`);
    await Deno.chmod(path, 0o644);
    await assertRejects(() => h.handle("stop", "c1"), ReportedError);
    await Deno.chmod(path, 0o755);
    await h.handle("destroy", "c1");
    assertEquals(await Deno.readTextFile(`${dir}/events`), "start\ndestroy\n");
  });
});
