import { assertEquals, assertIncludes } from "../_fixtures/assert.ts";
import {
  DIFF_EXIT,
  diffExitCode,
  formatPreview,
  unifiedDiff,
} from "../../lib/report/preview.ts";
import { parseMapText, seedPool } from "../../lib/haproxy/model/pool.ts";

Deno.test("preview: a unified diff with three lines of context, and none for an unchanged file", () => {
  const before = "a\nb\nc\nd\ne\nf\ng\nh\n";
  const after = "a\nb\nc\nd\nE\nf\ng\nh\n";
  assertEquals(
    unifiedDiff({ path: "/etc/haproxy/haproxy.cfg", before, after }),
    "--- /etc/haproxy/haproxy.cfg\n+++ /etc/haproxy/haproxy.cfg\n@@ -2,7 +2,7 @@\n b\n c\n d\n-e\n+E\n f\n g\n h\n",
  );
  assertEquals(unifiedDiff({ path: "x", before, after: before }), "");
  assertIncludes(
    unifiedDiff({ path: "x", before: null, after: "new\n" }),
    "--- /dev/null\n+++ x\n@@ -0,0 +1,1 @@\n+new",
  );
});

Deno.test("preview: exit 0 without a change, 3 through the runtime API, 4 with a reload", () => {
  const same = [{ path: "c", before: "x", after: "x" }];
  const changed = [{ path: "c", before: "x", after: "y" }];
  assertEquals(diffExitCode({ files: same, plan: { kind: "none" } }), 0);
  // HAProxy runs it, but a file on disk differs: put right, no reload.
  assertEquals(
    diffExitCode({ files: changed, plan: { kind: "none" } }),
    DIFF_EXIT.runtime,
  );
  assertEquals(
    diffExitCode({ files: changed, plan: { kind: "reload", reason: "r" } }),
    DIFF_EXIT.reload,
  );
  const text = formatPreview({
    files: changed,
    plan: {
      kind: "runtime",
      ops: [{
        op: "map",
        file: "/m",
        key: "h.example.com",
        value: "hosts_2",
        existed: false,
      }],
    },
  });
  assertIncludes(
    text,
    "# No reload: 1 runtime API commands instead:\n#   add map /m h.example.com hosts_2",
  );
});

Deno.test("preview: a single run takes the installed pool, so hosts keep their slots", () => {
  const installed =
    "backend hosts_1\n    balance roundrobin\nbackend hosts_2\nbackend hosts_3\n";
  const pool = seedPool(installed, [
    parseMapText("b.example.com hosts_3\n# comment\n\na.example.com hosts_1\n"),
    parseMapText("c.example.com hosts_9\n"),
  ]);
  assertEquals(pool.size, 3);
  // A slot past the pool's end is not taken over.
  assertEquals([...pool.slots].sort(), [
    ["a.example.com", 1],
    ["b.example.com", 3],
  ]);
});

Deno.test("preview: the diff applies with patch(1)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (
      const [before, after] of [
        ["", "one\ntwo\n"],
        ["a\nb\nc\n", "a\nc\nd\n"],
        ["x\n", ""],
        [
          "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n",
          "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n",
        ],
      ] as const
    ) {
      const file = `${dir}/f`;
      await Deno.writeTextFile(file, before);
      const patch = unifiedDiff({ path: file, before, after });
      const child = new Deno.Command("patch", {
        args: ["-s", file],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode(patch));
      await writer.close();
      const out = await child.output();
      assertEquals(out.code, 0, new TextDecoder().decode(out.stdout));
      assertEquals(await Deno.readTextFile(file).catch(() => ""), after);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
