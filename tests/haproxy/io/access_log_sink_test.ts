import { assertEquals } from "../../_fixtures/assert.ts";
import { fileSink } from "../../../lib/haproxy/io/access_log_sink.ts";

Deno.test("access log file: lines arrive in order as they are written; after the file is moved away, reopen starts a new one; a failure is reported once with the lines lost", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/logs/access.log`;
    const failures: [string, number][] = [];
    const sink = fileSink(path, (error, lost) => failures.push([error, lost]));
    for (let i = 0; i < 50; i++) sink.write(`{"n":${i}}`);
    // Written without a close: a reader sees them as they come.
    let first: string[] = [];
    for (let tries = 0; first.length < 50 && tries < 100; tries++) {
      await new Promise((r) => setTimeout(r, 10));
      first = (await Deno.readTextFile(path).catch(() => "")).trimEnd()
        .split("\n");
    }
    assertEquals(first, Array.from({ length: 50 }, (_, i) => `{"n":${i}}`));
    assertEquals((await Deno.stat(path)).mode! & 0o777, 0o640);

    await Deno.rename(path, `${path}.1`);
    sink.write(`{"n":"before reopen"}`);
    await sink.reopen();
    sink.write(`{"n":"after reopen"}`);
    await sink.close();
    assertEquals(
      await Deno.readTextFile(`${path}.1`),
      [
        ...first,
        `{"n":"before reopen"}`,
        "",
      ].join("\n"),
    );
    assertEquals(await Deno.readTextFile(path), `{"n":"after reopen"}\n`);

    // Its directory gone and a file in its place: nothing can be opened.
    await Deno.remove(`${dir}/logs`, { recursive: true });
    await Deno.writeTextFile(`${dir}/logs`, "");
    sink.write("a");
    sink.write("b");
    await sink.close();
    sink.write("c");
    await sink.close();
    // Said once for the run of failures, with the first batch's lines.
    assertEquals(failures.map(([, lost]) => lost), [2]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
