import { assertEquals } from "../../_fixtures/assert.ts";
import { resolveTemplateDirs } from "../../../lib/haproxy/render/template_dirs.ts";

const defaults = ["/etc/docker-glue/templates", "<built-in>"];

Deno.test("template dirs: unset or empty keeps the default path", () => {
  assertEquals(resolveTemplateDirs(undefined, defaults), defaults);
  assertEquals(resolveTemplateDirs("", defaults), defaults);
});

Deno.test("template dirs: a plain list replaces the default path", () => {
  assertEquals(resolveTemplateDirs("/a:/b", defaults), ["/a", "/b"]);
});

Deno.test("template dirs: a leading ':' appends after the default path", () => {
  assertEquals(resolveTemplateDirs(":/a:/b", defaults), [
    ...defaults,
    "/a",
    "/b",
  ]);
});

Deno.test("template dirs: a trailing ':' puts the dirs before the default path", () => {
  assertEquals(resolveTemplateDirs("/a:/b:", defaults), [
    "/a",
    "/b",
    ...defaults,
  ]);
});

Deno.test("template dirs: duplicates keep their first place", () => {
  assertEquals(
    resolveTemplateDirs("/a:/etc/docker-glue/templates:", defaults),
    [
      "/a",
      "/etc/docker-glue/templates",
      "<built-in>",
    ],
  );
});
