import { assertEquals, assertRejects } from "../_fixtures/assert.ts";
import {
  MAX_ERROR_PAGE_BYTES,
  readErrorPages,
} from "../../lib/haproxy/error_pages.ts";

Deno.test("error pages: the pages a directory holds are read; what HAProxy could not send is refused naming the file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assertRejects(
      () => readErrorPages(dir),
      Error,
      `Invalid error pages ${dir}: none of 404.html, 502.html, 503.html, 504.html is there`,
    );
    await Deno.writeTextFile(`${dir}/503.html`, "<h1>down</h1>");
    await Deno.writeTextFile(
      `${dir}/404.html`,
      "x".repeat(MAX_ERROR_PAGE_BYTES),
    );
    assertEquals(await readErrorPages(`${dir}/`), [
      { status: 404, file: `${dir}/404.html` },
      { status: 503, file: `${dir}/503.html` },
    ]);
    await Deno.writeTextFile(
      `${dir}/404.html`,
      "x".repeat(MAX_ERROR_PAGE_BYTES + 1),
    );
    await assertRejects(
      () => readErrorPages(dir),
      Error,
      `404.html has ${MAX_ERROR_PAGE_BYTES + 1} bytes`,
    );
    await Deno.writeTextFile(`${dir}/404.html`, "a\0b");
    await assertRejects(
      () => readErrorPages(dir),
      Error,
      "404.html holds a NUL",
    );
    await Deno.remove(`${dir}/404.html`);
    await Deno.mkdir(`${dir}/502.html`);
    await assertRejects(
      () => readErrorPages(dir),
      Error,
      "502.html is not a regular file",
    );
    await assertRejects(
      () => readErrorPages(`${dir}/503.html`),
      Error,
      "not a directory",
    );
    await assertRejects(() => readErrorPages("errors"), Error, "absolute path");
    await assertRejects(
      () => readErrorPages(`${dir}/missing`),
      Error,
      `Invalid error pages ${dir}/missing`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
