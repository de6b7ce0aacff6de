/**
 * Hostile handler files: each gets exactly one error naming the file, and
 * the good file next to them still loads.
 */

import {
  assertEquals,
  assertIncludes,
  assertTrue,
} from "../_fixtures/assert.ts";
import { Agent } from "../../lib/agent/agent.ts";
import { loadHandlers } from "../../lib/agent/loader.ts";
import { connectDocker } from "../../lib/docker/client.ts";
import { BUILTIN_REGISTRY } from "../../handlers/registry.ts";

const FIXTURES = new URL("./fixtures/plugins.ts", import.meta.url).pathname;
const GOOD = `[handler]\nclass=${FIXTURES}:RecordingHandler\nevents=all\n`;

const random = new Uint8Array(4096);
crypto.getRandomValues(random);

const cases: [string, string | Uint8Array, string][] = [
  ["empty.ini", "", "no [handler] section"],
  ["garbage.ini", random, "not a text file"],
  [
    "latin1.ini",
    new Uint8Array([0x5b, 0x68, 0xe9, 0xff, 0x5d]),
    "not a text file",
  ],
  ["nosection.ini", "class=script\nevents=all\n", "no [handler] section"],
  ["noclass.ini", "[handler]\nevents=all\n", "no class="],
  [
    "duplicate.ini",
    "[handler]\nclass=script\nevents=all\nevents=start\n",
    'duplicate key "events" in [handler] (line 4)',
  ],
  [
    "unknownkey.ini",
    "[handler]\nclass=script\nevents=all\ntriggers_none=1\n",
    'unknown key "triggers_none"',
  ],
  [
    "unknownevent.ini",
    "[handler]\nclass=script\nevents=start,restarted\n",
    'unknown event "restarted"',
  ],
  [
    "enormous.ini",
    `[handler]\nclass=script\nevents=all\n[params]\n${"x=y\n".repeat(400_000)}`,
    "too large",
  ],
  [
    "brackets.ini",
    "[handler\nclass=script\nevents=all\n",
    "no [handler] section",
  ],
];

Deno.test("handler files: every broken file is one error naming it; nothing crashes", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const files: string[] = [];
    for (const [name, content] of cases) {
      const path = `${dir}/${name}`;
      if (typeof content === "string") await Deno.writeTextFile(path, content);
      else await Deno.writeFile(path, content);
      files.push(path);
    }
    await Deno.writeTextFile(`${dir}/zz-good.ini`, GOOD);
    files.push(`${dir}/zz-good.ini`);
    const agent = new Agent(connectDocker("unix:///nonexistent.sock"), {
      dockerUrl: "unix:///nonexistent.sock",
    });
    const result = await loadHandlers(files, agent, BUILTIN_REGISTRY);
    assertEquals(result.loaded.map((l) => l.ini.file), [`${dir}/zz-good.ini`]);
    assertEquals(
      result.problems.length,
      cases.length,
      result.problems.map((p) => p.message).join("\n"),
    );
    for (const [i, [name, , part]] of cases.entries()) {
      const problem = result.problems[i]!;
      assertEquals(problem.severity, "error");
      assertTrue(
        problem.message.startsWith(`${dir}/${name}: `),
        problem.message,
      );
      assertIncludes(problem.message, part);
      assertEquals(problem.message.includes("\n"), false, problem.message);
      assertTrue(
        problem.message.length < 400,
        `${name}: message of ${problem.message.length} characters`,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
