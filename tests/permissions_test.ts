import {
  assertEquals,
  assertIncludes,
  assertTrue,
} from "./_fixtures/assert.ts";
import {
  BALANCER_PERMISSIONS,
  GLUE_PERMISSIONS,
  permissionHint,
} from "../lib/permissions.ts";
import { compileArgs, TARGETS } from "../scripts/targets.ts";

Deno.test("permissions: the compile task uses each binary's set, never --allow-all", () => {
  const byEntry = Object.fromEntries(
    TARGETS.map((t) => [t.entry, compileArgs(t)]),
  );
  assertEquals(Object.keys(byEntry).sort(), ["balancer.ts", "main.ts"]);
  for (const args of Object.values(byEntry)) {
    for (const bad of ["-A", "--allow-all"]) {
      assertEquals(args.includes(bad), false);
    }
  }
  assertEquals(
    byEntry["balancer.ts"]?.filter((a) => a.startsWith("--allow-")),
    [...BALANCER_PERMISSIONS],
  );
  assertEquals(byEntry["main.ts"]?.filter((a) => a.startsWith("--allow-")), [
    ...GLUE_PERMISSIONS,
  ]);
  // Extra flags from `deno task compile --allow-write=/srv` come before the entry point.
  const extra = compileArgs(TARGETS[0]!, ["--allow-write=/srv"]);
  assertEquals(extra.at(-1), TARGETS[0]!.entry);
  assertTrue(extra.includes("--allow-write=/srv"));
});

Deno.test("permissions: docker-balancer's set is narrow", () => {
  for (const flag of BALANCER_PERMISSIONS) {
    if (flag === "--allow-env") continue;
    assertTrue(flag.includes("="), `${flag} has no list`);
  }
  assertIncludes(
    BALANCER_PERMISSIONS.join(" "),
    "--allow-run=haproxy,systemctl,kill",
  );
});

Deno.test("permissions: the hint names the denied access and the flag to build with", () => {
  const hint = permissionHint(
    new Deno.errors.NotCapable(
      'Requires write access to "/srv/haproxy", run again with the --allow-write flag',
    ),
  );
  assertIncludes(
    hint,
    'Missing permission: Requires write access to "/srv/haproxy"',
  );
  assertIncludes(hint, "deno task compile --allow-write=/srv/haproxy");
  assertEquals(hint.includes("\n"), false);
  assertIncludes(
    permissionHint(
      new Deno.errors.NotCapable(
        'Requires net access to "10.0.0.5:2379", run again',
      ),
    ),
    "--allow-net=10.0.0.5:2379",
  );
});
