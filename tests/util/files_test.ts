/**
 * Files that survive a crash and keep secrets: atomic writes give the file
 * its mode whether it is new or not, and what a dead run left is removed.
 */

import { withTempDir } from "../_fixtures/cleanup.ts";
import { assertEquals } from "../_fixtures/assert.ts";
import {
  removeStaleTemps,
  tempBeside,
  writeAtomically,
} from "../../lib/util/files.ts";

const modeOf = async (path: string) => (await Deno.stat(path)).mode! & 0o777;

Deno.test("files: an atomic write is 0600 unless told, also over an older 0644 file", () =>
  withTempDir("docker-glue-files-", async (dir) => {
    const path = `${dir}/haproxy.cfg`;
    await Deno.writeTextFile(path, "old\n", { mode: 0o644 });
    await Deno.chmod(path, 0o644);
    await writeAtomically(path, "dynamic-cookie-key secret\n");
    assertEquals(await Deno.readTextFile(path), "dynamic-cookie-key secret\n");
    assertEquals(await modeOf(path), 0o600);
    await writeAtomically(`${dir}/hosts.map`, "a.example.com hosts_1\n", 0o644);
    assertEquals(await modeOf(`${dir}/hosts.map`), 0o644);
    // No temporary file is left beside them.
    const names = (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name)
      .sort();
    assertEquals(names, ["haproxy.cfg", "hosts.map"]);
  }));

Deno.test("files: temporary files of a run that died are removed, others kept", () =>
  withTempDir("docker-glue-files-", async (dir) => {
    const old = new Date(Date.now() - 120_000);
    const dead = `${dir}/.haproxy.cfg.999999.0123abcd.tmp`;
    const deadCheck = `${dir}/.haproxy.cfg.999998.89abcdef.tmp`;
    const fresh = `${dir}/.haproxy.cfg.999997.00000000.tmp`;
    const ours = tempBeside(`${dir}/haproxy.cfg`);
    const other = `${dir}/.something.tmp`;
    for (const path of [dead, fresh, ours, other]) {
      await Deno.writeTextFile(path, "x");
    }
    await Deno.mkdir(deadCheck);
    await Deno.writeTextFile(`${deadCheck}/haproxy.cfg`, "x");
    for (const path of [dead, deadCheck, ours, other]) {
      await Deno.utime(path, old, old);
    }
    const removed = await removeStaleTemps(dir);
    assertEquals(removed.sort(), [dead, deadCheck].sort());
    const left = (await Array.fromAsync(Deno.readDir(dir))).map((e) =>
      `${dir}/${e.name}`
    ).sort();
    assertEquals(left, [fresh, ours, other].sort());
    assertEquals(await removeStaleTemps(`${dir}/missing`), []);
  }));
