import { assertEquals } from "../_fixtures/assert.ts";
import { escapeHtml } from "../../lib/util/html.ts";

Deno.test("html: the five characters that matter in content and attributes are escaped", () => {
  assertEquals(
    escapeHtml(`<a href="x">'&'</a>`),
    "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;",
  );
});
