/**
 * docker-glue's command line: --check, --version and usage errors.
 */

import { assertEquals, assertIncludes } from "../_fixtures/assert.ts";
import { runGlue, testTempFile } from "./_harness.ts";
import { VERSION } from "../../lib/version.ts";
import { withCleanup } from "../_fixtures/cleanup.ts";
import { example, handlerDir, opts, testIni } from "./_glue.ts";

Deno.test({
  ...opts,
  name: "e2e glue: --check lists every problem with its file and exits 1",
  fn: () =>
    withCleanup(async (cleanup) => {
      const good = await handlerDir(cleanup, {
        "test.ini": example("test"),
        "notes.ini.example": "garbage",
      });
      const log = await testTempFile(cleanup, ".log");
      const bad = await handlerDir(cleanup, {
        "a.ini": "[handler]\nclass=Nope\nevents=all\n",
        "b.ini": "\u0000\u0001",
        "c.ini":
          "[handler]\nclass=script\nevents=all\n[params]\nscript=missing.sh\n",
        "d.ini": testIni(log),
      });
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
    }),
});

Deno.test({
  ...opts,
  name:
    "e2e glue: as root, a handler directory others can write is refused, as sshd refuses keys",
  fn: () =>
    withCleanup(async (cleanup) => {
      const dir = await handlerDir(cleanup, { "test.ini": example("test") });
      // As `sudo docker-glue -1` in a directory every user can write.
      await Deno.chmod(dir.path, 0o777);
      const open = await runGlue(["--check", "--handler-paths", dir.path]);
      assertEquals(open.code, 1, open.stdout + open.stderr);
      assertIncludes(
        open.stdout,
        `error: ${dir.path}/test.ini: refused handler file ${dir.path}/test.ini: its directory ${dir.path} is writable by every user (mode 777)`,
      );
      await Deno.chmod(dir.path, 0o755);
      const closed = await runGlue(["--check", "--handler-paths", dir.path]);
      assertEquals(closed.code, 0, closed.stdout + closed.stderr);
    }),
});

Deno.test({
  ...opts,
  name: "e2e glue: --version, usage errors and an empty handler path",
  fn: () =>
    withCleanup(async (cleanup) => {
      assertEquals((await runGlue([])).code, 2);
      const version = await runGlue(["--version"]);
      assertEquals([version.code, version.stdout], [0, VERSION]);
      assertEquals((await runGlue(["-1", "-w"])).code, 2);
      const empty = await handlerDir(cleanup, {});
      const none = await runGlue(["-1", "--handler-paths", empty.path]);
      assertEquals(none.code, 1);
      assertIncludes(none.stderr, "no handler loaded");
    }),
});
