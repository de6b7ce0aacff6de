import { assertIncludes } from "./_fixtures/assert.ts";

const root = new URL("../", import.meta.url);

Deno.test("docs: the plugin section shows the demo plugin as it is", async () => {
  const readme = await Deno.readTextFile(new URL("docs/docker-glue.md", root));
  const plugin = await Deno.readTextFile(
    new URL("examples/plugins/demo_handler.ts", root),
  );
  assertIncludes(readme, plugin.slice(plugin.indexOf("import { getLogger }")));
});
