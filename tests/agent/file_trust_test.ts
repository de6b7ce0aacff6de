/**
 * Handler files, scripts and modules as root loads them: what others can
 * change is refused with the reason, as sshd refuses keys (StrictModes).
 */

import { withTempDir } from "../_fixtures/cleanup.ts";
import {
  assertEquals,
  assertIncludes,
  assertTrue,
} from "../_fixtures/assert.ts";
import { untrustedBecause } from "../../lib/agent/file_trust.ts";
import { loadHandlers } from "../../lib/agent/loader.ts";
import { BUILTIN_REGISTRY } from "../../handlers/registry.ts";
import { Agent } from "../../lib/agent/agent.ts";
import { connectDocker } from "../../lib/docker/client.ts";

/** Whether the tests run as root: a file made now belongs to the user making it. */
async function runAsRoot(): Promise<boolean> {
  const probe = await Deno.makeTempFile();
  try {
    return (await Deno.stat(probe)).uid === 0;
  } finally {
    await Deno.remove(probe);
  }
}

const root = await runAsRoot();

Deno.test({
  name: "file trust: as root, a file or directory others can change is refused",
  ignore: !root,
  fn: () =>
    // Made under /tmp: world-writable, but sticky, which is allowed.
    withTempDir("docker-glue-trust-", async (dir) => {
      const file = `${dir}/lb.ini`;
      await Deno.writeTextFile(file, "[handler]\n");
      await Deno.chmod(file, 0o644);
      assertEquals(await untrustedBecause(file, 0), null);
      // Another user runs only what it could run anyway.
      await Deno.chmod(file, 0o666);
      assertEquals(await untrustedBecause(file, 1000), null);
      assertIncludes(await untrustedBecause(file, 0) ?? "", "every user");
      await Deno.chmod(file, 0o664);
      assertIncludes(await untrustedBecause(file, 0) ?? "", "its group");
      await Deno.chmod(file, 0o644);
      await Deno.chown(file, 65534, 65534);
      assertIncludes(await untrustedBecause(file, 0) ?? "", "uid 65534");
      await Deno.chown(file, 0, 0);
      // A directory anyone may write lets anyone replace the file; with the
      // sticky bit, nobody may replace what root owns.
      await Deno.chmod(dir, 0o777);
      assertIncludes(
        await untrustedBecause(file, 0) ?? "",
        `its directory ${await Deno.realPath(dir)}`,
      );
      await Deno.chmod(dir, 0o1777);
      assertEquals(await untrustedBecause(file, 0), null);
      // A symbolic link is judged by what it points to.
      await Deno.chmod(dir, 0o700);
      await Deno.chmod(file, 0o666);
      await Deno.symlink(file, `${dir}/link.ini`);
      assertIncludes(
        await untrustedBecause(`${dir}/link.ini`, 0) ?? "",
        "every user",
      );
    }),
});

Deno.test({
  name:
    "file trust: the loader refuses a handler file, script or module others can write, in one line each; the rest load",
  ignore: !root,
  fn: () =>
    withTempDir("docker-glue-trust-", async (dir) => {
      const agent = new Agent(connectDocker("unix:///nonexistent.sock"), {
        dockerUrl: "unix:///nonexistent.sock",
        scriptPaths: [dir],
        uid: 0,
      });
      const ini = (script: string) =>
        `[handler]\nclass=script\nevents=all\n[params]\nscript=${script}\n`;
      for (const [name, mode] of [["good.sh", 0o755], ["open.sh", 0o777]]) {
        await Deno.writeTextFile(`${dir}/${name}`, "#!/bin/sh\n");
        await Deno.chmod(`${dir}/${name}`, mode as number);
      }
      await Deno.writeTextFile(`${dir}/good.ini`, ini("good.sh"));
      await Deno.writeTextFile(`${dir}/open.ini`, ini("good.sh"));
      await Deno.chmod(`${dir}/open.ini`, 0o666);
      await Deno.writeTextFile(`${dir}/script.ini`, ini("open.sh"));
      await Deno.writeTextFile(`${dir}/plugin.ts`, "export class P {}\n");
      await Deno.chmod(`${dir}/plugin.ts`, 0o646);
      await Deno.writeTextFile(
        `${dir}/module.ini`,
        "[handler]\nclass=./plugin.ts:P\nevents=all\n",
      );
      const files = ["good", "open", "script", "module"].map((n) =>
        `${dir}/${n}.ini`
      );
      const result = await loadHandlers(files, agent, BUILTIN_REGISTRY);
      assertEquals(result.loaded.length, 1);
      assertEquals(result.problems.length, 3);
      for (const [i, file] of files.slice(1).entries()) {
        const message = result.problems[i]?.message ?? "";
        assertTrue(message.startsWith(file), message);
        assertIncludes(message, "refused");
        assertTrue(!message.includes("\n"), message);
      }
    }),
});
