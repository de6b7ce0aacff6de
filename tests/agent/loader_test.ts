import {
  assertEquals,
  assertIncludes,
  assertTrue,
} from "../_fixtures/assert.ts";
import { Agent } from "../../lib/agent/agent.ts";
import { loadHandlers } from "../../lib/agent/loader.ts";
import { connectDocker } from "../../lib/docker/client.ts";
import { BUILTIN_REGISTRY } from "../../handlers/registry.ts";
import { ScriptHandler } from "../../handlers/exec.ts";
import { HAProxyHandler } from "../../handlers/haproxy.ts";

const FIXTURES = new URL("./fixtures/plugins.ts", import.meta.url).pathname;
const DEMO =
  new URL("../../examples/plugins/demo_handler.ts", import.meta.url).pathname;

function agent(scriptPaths: string[] = []): Agent {
  // Never connected: loading handlers does not talk to Docker.
  return new Agent(connectDocker("unix:///nonexistent.sock"), {
    dockerUrl: "unix:///nonexistent.sock",
    scriptPaths,
  });
}

async function withIni(
  files: Record<string, string>,
  fn: (dir: string, paths: string[]) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    const paths: string[] = [];
    for (const [name, text] of Object.entries(files)) {
      await Deno.writeTextFile(`${dir}/${name}`, text);
      paths.push(`${dir}/${name}`);
    }
    await fn(dir, paths);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const handler = (cls: string, extra = "") =>
  `[handler]\nclass=${cls}\nevents=all\n${extra}\n[params]\nscript=true.sh\nname=x\n`;

Deno.test("loader: legacy and modern built-in names give the same classes", async () => {
  await withIni({
    "a.ini": handler("DockerGlue.handlers.exec.ScriptHandler"),
    "b.ini": handler("script"),
  }, async (dir, files) => {
    await Deno.writeTextFile(`${dir}/true.sh`, "#!/bin/sh\n", { mode: 0o755 });
    await Deno.chmod(`${dir}/true.sh`, 0o755);
    const result = await loadHandlers(files, agent([dir]), BUILTIN_REGISTRY);
    assertEquals(result.problems, []);
    assertEquals(result.loaded.map((l) => l.handler instanceof ScriptHandler), [
      true,
      true,
    ]);
  });
  assertTrue(
    (await BUILTIN_REGISTRY.lookup(
      "DockerGlue.handlers.lb.HAProxyHandler",
    )?.()) === HAProxyHandler,
  );
  assertEquals(BUILTIN_REGISTRY.lookup("toString"), undefined);
});

Deno.test("loader: a module path (relative to the INI file) or file URL names a plugin class", async () => {
  await withIni({}, async (dir) => {
    await Deno.mkdir(`${dir}/plugins`);
    await Deno.copyFile(DEMO, `${dir}/plugins/demo.ts`);
    // The copy imports the library relative to examples/plugins; point it back.
    const text = (await Deno.readTextFile(DEMO)).replaceAll(
      "../../lib/",
      new URL("../../lib/", import.meta.url).href,
    );
    await Deno.writeTextFile(`${dir}/plugins/demo.ts`, text);
    await Deno.writeTextFile(
      `${dir}/rel.ini`,
      handler("./plugins/demo.ts:DemoHandler"),
    );
    await Deno.writeTextFile(
      `${dir}/url.ini`,
      handler(`file://${FIXTURES}:RecordingHandler`),
    );
    const result = await loadHandlers(
      [`${dir}/rel.ini`, `${dir}/url.ini`],
      agent(),
      BUILTIN_REGISTRY,
    );
    assertEquals(result.problems, []);
    assertEquals(result.loaded.map((l) => l.handler.constructor.name), [
      "DemoHandler",
      "RecordingHandler",
    ]);
  });
});

Deno.test("loader: every broken file is one error naming it; the rest still load", async () => {
  await withIni({
    "1-unknown.ini": handler("NoSuchHandler"),
    "2-nomodule.ini": handler("./missing.ts:X"),
    "3-noexport.ini": handler(`${FIXTURES}:Missing`),
    "4-notclass.ini": handler(`${FIXTURES}:notAClass`),
    "5-nothandler.ini": handler(`${FIXTURES}:NotAHandler`),
    "6-throws.ini": handler(`${FIXTURES}:ThrowingHandler`),
    "7-nosection.ini": "[params]\nx=1\n",
    "8-noclass.ini": "[handler]\nevents=all\n",
    "9-syntax.ini": handler("./syntax.ts:X"),
    "good.ini": handler(`${FIXTURES}:RecordingHandler`),
    "off.ini": handler(`${FIXTURES}:RecordingHandler`, "enabled=0"),
    "shy.ini": handler(`${FIXTURES}:ShyHandler`),
  }, async (dir, files) => {
    await Deno.writeTextFile(`${dir}/syntax.ts`, "export class X {{{ \n");
    const result = await loadHandlers(files, agent(), BUILTIN_REGISTRY);
    assertEquals(result.loaded.map((l) => l.ini.file), [`${dir}/good.ini`]);
    assertEquals(result.disabled, [`${dir}/off.ini`]);
    const errors = result.problems.filter((p) => p.severity === "error");
    assertEquals(
      errors.length,
      9,
      result.problems.map((p) => p.message).join("\n"),
    );
    for (
      const [i, part] of [
        'unknown handler class "NoSuchHandler"',
        'cannot import handler module "./missing.ts"',
        'has no export "Missing"',
        "is not a handler class",
        "is not a handler class",
        "[params] level must be 1-3",
        "no [handler] section",
        "no class=",
        'cannot import handler module "./syntax.ts"',
      ].entries()
    ) {
      const problem = errors[i];
      assertTrue(
        problem?.message.startsWith(`${dir}/${i + 1}-`),
        problem?.message,
      );
      assertIncludes(problem?.message ?? "", part);
      assertEquals(problem?.message.includes("\n"), false);
    }
    const warnings = result.problems.filter((p) => p.severity === "warning");
    assertEquals(warnings.map((w) => w.message), [
      `${dir}/shy.ini: nothing to do here`,
    ]);
  });
});

Deno.test("loader: a script that cannot be found switches its handler off with a warning", async () => {
  await withIni({ "s.ini": handler("script") }, async (_dir, files) => {
    const result = await loadHandlers(
      files,
      agent(["/nonexistent"]),
      BUILTIN_REGISTRY,
    );
    assertEquals(result.loaded, []);
    assertEquals(result.problems.length, 1);
    assertEquals(result.problems[0]?.severity, "warning");
    assertIncludes(
      result.problems[0]?.message ?? "",
      '"true.sh" is not an executable file',
    );
  });
});
