import {
  assertEquals,
  assertIncludes,
  assertTrue,
} from "./_fixtures/assert.ts";
import {
  defaultHandlerDirs,
  defaultScriptDirs,
  findHandlerFiles,
  resolveScript,
} from "../lib/agent/paths.ts";

const ROOT = new URL("../", import.meta.url).pathname;

async function install(
  args: string[],
): Promise<{ code: number; stderr: string }> {
  const out = await new Deno.Command("bash", {
    args: [`${ROOT}scripts/install.sh`, ...args],
    stdout: "null",
    stderr: "piped",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

async function fakeBinaries(dir: string, content: string): Promise<void> {
  for (const name of ["docker-glue", "docker-balancer"]) {
    await Deno.writeTextFile(`${dir}/${name}`, `#!/bin/sh\necho ${content}\n`);
    await Deno.chmod(`${dir}/${name}`, 0o755);
  }
}

const mode = async (path: string) =>
  ((await Deno.stat(path)).mode ?? 0) & 0o777;

Deno.test("install: the installed layout is where the binaries look", async () => {
  const root = await Deno.makeTempDir();
  const bins = await Deno.makeTempDir();
  try {
    await fakeBinaries(bins, "v1");
    const result = await install([
      "--root",
      root,
      "--bin-dir",
      bins,
      "--templates",
    ]);
    assertEquals(result.code, 0, result.stderr);
    for (const name of ["docker-glue", "docker-balancer"]) {
      assertEquals(await mode(`${root}/usr/bin/${name}`), 0o755);
      const unit = await Deno.readTextFile(
        `${root}/etc/systemd/system/${name}.service`,
      );
      // The unit starts the binary where the install put it (relative to the root).
      assertIncludes(unit, `ExecStart=/usr/bin/${name} -w`);
    }
    // The binaries look relative to themselves: /usr/bin/../../etc/docker-glue.d
    // and /usr/bin/../libexec/docker-glue.
    const handlerDirs = defaultHandlerDirs(`${root}/usr/bin`, "/nonexistent");
    assertTrue(
      handlerDirs.includes(`${root}/etc/docker-glue.d`),
      handlerDirs.join(":"),
    );
    const examples: string[] = [];
    for await (const e of Deno.readDir(`${root}/etc/docker-glue.d`)) {
      examples.push(e.name);
    }
    assertEquals(examples.sort(), [
      "lb.ini.example",
      "ovs.ini.example",
      "publisher.ini.example",
      "test.ini.example",
    ]);
    // Examples never load until copied to *.ini.
    assertEquals(
      (await findHandlerFiles(handlerDirs)).files.filter((f) =>
        f.startsWith(root)
      ),
      [],
    );
    const scriptDirs = defaultScriptDirs(`${root}/usr/bin`, "/nonexistent");
    assertEquals(
      await resolveScript("test-handler.sh", scriptDirs),
      `${root}/usr/libexec/docker-glue/test-handler.sh`,
    );
    assertEquals(
      await mode(`${root}/usr/libexec/docker-glue/ovs-handler.sh`),
      0o755,
    );
    assertTrue(
      (await Deno.stat(`${root}/etc/docker-glue/templates/haproxy.cfg.njk`))
        .isFile,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
    await Deno.remove(bins, { recursive: true });
  }
});

Deno.test("install: an upgrade keeps the previous binary and the operator's .ini files", async () => {
  const root = await Deno.makeTempDir();
  const bins = await Deno.makeTempDir();
  try {
    await fakeBinaries(bins, "v1");
    assertEquals((await install(["--root", root, "--bin-dir", bins])).code, 0);
    await Deno.writeTextFile(
      `${root}/etc/docker-glue.d/lb.ini`,
      "[handler]\nmine\n",
    );
    await fakeBinaries(bins, "v2");
    assertEquals((await install(["--root", root, "--bin-dir", bins])).code, 0);
    assertIncludes(
      await Deno.readTextFile(`${root}/usr/bin/docker-glue`),
      "echo v2",
    );
    assertIncludes(
      await Deno.readTextFile(`${root}/usr/bin/docker-glue.previous`),
      "echo v1",
    );
    assertEquals(
      await Deno.readTextFile(`${root}/etc/docker-glue.d/lb.ini`),
      "[handler]\nmine\n",
    );
  } finally {
    await Deno.remove(root, { recursive: true });
    await Deno.remove(bins, { recursive: true });
  }
});

Deno.test("install: missing binaries are one clear error", async () => {
  const root = await Deno.makeTempDir();
  try {
    const result = await install(["--root", root, "--bin-dir", "/nonexistent"]);
    assertEquals(result.code, 1);
    assertIncludes(result.stderr, "deno task compile");
    assertEquals((await install(["--root", root, "--no-binaries"])).code, 0);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
