import {
  assertEquals,
  assertRejects,
  assertTrue,
} from "../_fixtures/assert.ts";
import { withTempDir } from "../_fixtures/cleanup.ts";
import {
  authorized,
  isLoopback,
  pageRefusal,
  readPageLogin,
} from "../../lib/metrics/page_access.ts";

const LOGIN = { user: "ops", password: "s3cret:with colon" };
const basic = (text: string) => `Basic ${btoa(text)}`;

Deno.test("status page access: loopback clients only, unless a login is given", () => {
  for (
    const host of ["127.0.0.1", "127.8.0.3", "::1", "[::1]", "::ffff:127.0.0.1"]
  ) {
    assertTrue(isLoopback(host), host);
  }
  for (
    const host of [
      "10.0.0.1",
      "192.0.2.7",
      "::ffff:10.0.0.1",
      "fd00::1",
      "",
      "localhost",
    ]
  ) {
    assertTrue(!isLoopback(host), host);
  }
  const page = new Request("http://x/");
  assertEquals(pageRefusal(page, "127.0.0.1", undefined), null);
  const remote = pageRefusal(page, "192.0.2.7", undefined);
  assertEquals(remote?.status, 403);
  // With a login, loopback clients need it too.
  assertEquals(pageRefusal(page, "127.0.0.1", LOGIN)?.status, 401);
  const withLogin = new Request("http://x/", {
    headers: { authorization: basic("ops:s3cret:with colon") },
  });
  assertEquals(pageRefusal(withLogin, "192.0.2.7", LOGIN), null);
});

Deno.test("status page access: only the exact login passes", () => {
  assertTrue(authorized(basic("ops:s3cret:with colon"), LOGIN));
  for (
    const header of [
      null,
      "",
      basic("ops:s3cret:with colo"),
      basic("ops:s3cret:with colonn"),
      basic("op:s3cret:with colon"),
      "Bearer abc",
      "Basic !!!",
    ]
  ) {
    assertTrue(!authorized(header, LOGIN), String(header));
  }
});

Deno.test("status page access: the login file is user:password, readable by its owner only", async () => {
  await withTempDir("docker-glue-page-", async (dir) => {
    const file = `${dir}/metrics.auth`;
    await Deno.writeTextFile(file, "ops:s3cret:with colon\n", { mode: 0o600 });
    await Deno.chmod(file, 0o600);
    assertEquals(await readPageLogin(file), LOGIN);
    await Deno.chmod(file, 0o644);
    await assertRejects(
      () => readPageLogin(file),
      Error,
      "can be read by other users",
    );
    await Deno.writeTextFile(file, "no-colon\n");
    await Deno.chmod(file, 0o600);
    await assertRejects(
      () => readPageLogin(file),
      Error,
      "expected one line user:password",
    );
  });
});
