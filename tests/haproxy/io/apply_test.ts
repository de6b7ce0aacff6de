import {
  assertEquals,
  assertIncludes,
  assertRejects,
  assertTrue,
} from "../../_fixtures/assert.ts";
import {
  applyConfig,
  type ApplyOptions,
  ConfigRejectedError,
  keepForeignConfig,
  ReloadError,
  WRITTEN_BY,
} from "../../../lib/haproxy/io/apply.ts";

const VALID = `defaults
    mode http
    timeout connect 1s
    timeout client 1s
    timeout server 1s
frontend f
    bind 127.0.0.1:18999
`;

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function options(dir: string, reloadCmd?: string[]): ApplyOptions {
  return {
    configFile: `${dir}/haproxy.cfg`,
    haproxyBin: "haproxy",
    checkArgs: [],
    // The reload command leaves a mark per run, so tests can count reloads.
    reloadCmd: reloadCmd ?? ["sh", "-c", `echo reload >> '${dir}/reloads'`],
  };
}

async function reloads(dir: string): Promise<number> {
  try {
    return (await Deno.readTextFile(`${dir}/reloads`)).split("\n").filter(
      Boolean,
    ).length;
  } catch {
    return 0;
  }
}

async function entries(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}

Deno.test("apply: a valid config is installed and HAProxy reloaded", async () => {
  await withDir(async (dir) => {
    assertEquals(await applyConfig(VALID, options(dir)), "applied");
    assertEquals(await Deno.readTextFile(`${dir}/haproxy.cfg`), VALID);
    assertEquals(await reloads(dir), 1);
    assertEquals(await entries(dir), ["haproxy.cfg", "reloads"]);
  });
});

Deno.test("apply: an identical config is neither written nor reloaded", async () => {
  await withDir(async (dir) => {
    await applyConfig(VALID, options(dir));
    const before = (await Deno.stat(`${dir}/haproxy.cfg`)).mtime;
    await new Promise((r) => setTimeout(r, 20));
    assertEquals(await applyConfig(VALID, options(dir)), "unchanged");
    assertEquals((await Deno.stat(`${dir}/haproxy.cfg`)).mtime, before);
    assertEquals(await reloads(dir), 1);
  });
});

Deno.test("apply: a rejected config keeps the running one and is kept as .rejected", async () => {
  await withDir(async (dir) => {
    await applyConfig(VALID, options(dir));
    const bad = `${VALID}    use_backend nowhere\n    bogus_keyword 1\n`;
    const error = await assertRejects(
      () => applyConfig(bad, options(dir)),
      ConfigRejectedError,
      "kept the running one",
    ) as ConfigRejectedError;
    assertEquals(await Deno.readTextFile(`${dir}/haproxy.cfg`), VALID);
    assertEquals(await Deno.readTextFile(`${dir}/haproxy.cfg.rejected`), bad);
    assertEquals(error.rejectedFile, `${dir}/haproxy.cfg.rejected`);
    assertTrue(
      error.details.some((line) =>
        line.includes("bogus_keyword") && line.includes("haproxy.cfg.rejected")
      ),
      error.details.join("\n"),
    );
    assertEquals(await reloads(dir), 1);
    assertEquals(await entries(dir), [
      "haproxy.cfg",
      "haproxy.cfg.rejected",
      "reloads",
    ]);
  });
});

Deno.test("apply: rc file arguments reach haproxy -c", async () => {
  await withDir(async (dir) => {
    // An unknown option makes haproxy -c fail, proving the arguments arrive.
    const opts = { ...options(dir), checkArgs: ["--no-such-option"] };
    await assertRejects(() => applyConfig(VALID, opts), ConfigRejectedError);
  });
});

Deno.test("apply: a failing reload is reported, the new config stays installed", async () => {
  await withDir(async (dir) => {
    const error = await assertRejects(
      () =>
        applyConfig(
          VALID,
          options(dir, ["sh", "-c", "echo cannot reload >&2; exit 3"]),
        ),
      ReloadError,
      "status 3",
    );
    assertIncludes(error.message, "cannot reload");
    assertEquals(await Deno.readTextFile(`${dir}/haproxy.cfg`), VALID);
  });
});

Deno.test("apply: an empty reload command skips the reload", async () => {
  await withDir(async (dir) => {
    assertEquals(await applyConfig(VALID, options(dir, [])), "applied");
    assertEquals(await reloads(dir), 0);
  });
});

Deno.test("apply: an operator's file is kept before it is replaced, also when an earlier .orig holds another", async () => {
  await withDir(async (dir) => {
    const config = `${dir}/haproxy.cfg`;
    await Deno.writeTextFile(config, "# the distribution's file\n");
    assertEquals(await keepForeignConfig(config), `${config}.orig`);
    // The same text again: already kept.
    assertEquals(await keepForeignConfig(config), null);
    await Deno.writeTextFile(config, "# the operator's own file\n");
    assertEquals(await keepForeignConfig(config), `${config}.orig.1`);
    assertEquals(
      await Deno.readTextFile(`${config}.orig`),
      "# the distribution's file\n",
    );
    assertEquals(
      await Deno.readTextFile(`${config}.orig.1`),
      "# the operator's own file\n",
    );
    // Ours is never kept.
    await Deno.writeTextFile(config, `${WRITTEN_BY}\n`);
    assertEquals(await keepForeignConfig(config), null);
  });
});

Deno.test("apply: a check that does not finish in time is stopped and the file rejected, the running one kept", async () => {
  await withDir(async (dir) => {
    // haproxy -c computes each userlist hash: 5,000,000 rounds of SHA-512
    // take seconds, far past this test's limit.
    const slow = crypt6(5_000_000);
    const text = `${VALID}userlist users\n    user alice password ${slow}\n`;
    const started = performance.now();
    const error = await assertRejects(
      () => applyConfig(text, { ...options(dir), timeoutMs: 300 }),
      ConfigRejectedError,
    );
    assertTrue(performance.now() - started < 5_000, "stopped in time");
    assertIncludes(
      (error as ConfigRejectedError).details.join("\n"),
      "did not finish within 0.3 s",
    );
    assertEquals(await reloads(dir), 0);
    assertEquals(await entries(dir), ["haproxy.cfg.rejected"]);
  });
});

Deno.test("apply: a reload command that hangs is stopped with its process group and reported", async () => {
  await withDir(async (dir) => {
    const started = performance.now();
    const error = await assertRejects(
      () =>
        applyConfig(VALID, {
          ...options(dir, ["sh", "-c", "sleep 30 & wait"]),
          timeoutMs: 500,
        }),
      ReloadError,
    );
    assertTrue(performance.now() - started < 5_000, "stopped in time");
    assertIncludes(error.message, "did not finish within 0.5 s");
  });
});

/** A SHA-512 crypt hash with this many rounds (the hash itself is made up: only its cost matters). */
function crypt6(rounds: number): string {
  return `$6$rounds=${rounds}$saltsalt$${"A".repeat(86)}`;
}
