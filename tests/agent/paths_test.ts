import { assertEquals } from "../_fixtures/assert.ts";
import {
  defaultHandlerDirs,
  defaultScriptDirs,
  findHandlerFiles,
  parsePathList,
  resolveScript,
} from "../../lib/agent/paths.ts";

Deno.test("paths: handler dirs in the original's order, without duplicates", () => {
  assertEquals(defaultHandlerDirs("/opt/glue/bin", "/srv"), [
    "/opt/glue/etc/docker-glue.d",
    "/opt/etc/docker-glue.d",
    "/etc/docker-glue.d",
    "/srv/docker-glue.d",
  ]);
  // Installed in /usr/bin: ../etc and ../../etc are /usr/etc and /etc.
  assertEquals(defaultHandlerDirs("/usr/bin", "/etc"), [
    "/usr/etc/docker-glue.d",
    "/etc/docker-glue.d",
  ]);
});

Deno.test("paths: script dirs in the original's order", () => {
  assertEquals(defaultScriptDirs("/usr/local/bin", "/root"), [
    "/usr/local/libexec/docker-glue",
    "/usr/libexec/docker-glue",
    "/root/handler-scripts",
  ]);
});

Deno.test("paths: a path list resolves relative entries against the working directory", () => {
  assertEquals(parsePathList("a:/b::./c:a", "/w"), ["/w/a", "/b", "/w/c"]);
});

async function tree(
  files: Record<string, string>,
  fn: (root: string) => Promise<void>,
) {
  const root = await Deno.makeTempDir();
  try {
    for (const [path, mode] of Object.entries(files)) {
      const full = `${root}/${path}`;
      await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), {
        recursive: true,
      });
      await Deno.writeTextFile(full, "#!/bin/sh\n");
      await Deno.chmod(full, Number(mode));
    }
    await fn(root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("paths: only *.ini files load, never *.ini.example; the first of a name wins", async () => {
  await tree({
    "a/lb.ini": "0644",
    "a/test.ini.example": "0644",
    "a/notes.txt": "0644",
    "b/lb.ini": "0644",
    "b/zz.ini": "0644",
    "b/aa.ini": "0644",
  }, async (root) => {
    const found = await findHandlerFiles([
      `${root}/a`,
      `${root}/missing`,
      `${root}/b`,
    ]);
    assertEquals(found.files, [
      `${root}/a/lb.ini`,
      `${root}/b/aa.ini`,
      `${root}/b/zz.ini`,
    ]);
    assertEquals(found.shadowed, [`${root}/b/lb.ini`]);
  });
});

Deno.test("paths: scripts resolve to the first executable match", async () => {
  await tree({
    "one/s.sh": "0644",
    "two/s.sh": "0755",
    "three/s.sh": "0755",
  }, async (root) => {
    const dirs = [`${root}/one`, `${root}/two`, `${root}/three`];
    assertEquals(await resolveScript("s.sh", dirs), `${root}/two/s.sh`);
    assertEquals(await resolveScript("nope.sh", dirs), null);
    assertEquals(
      await resolveScript(`${root}/three/s.sh`, []),
      `${root}/three/s.sh`,
    );
    assertEquals(await resolveScript(`${root}/one/s.sh`, dirs), null);
  });
});
