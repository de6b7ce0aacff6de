import { assertEquals, assertIncludes } from "./_fixtures/assert.ts";

const root = new URL("../", import.meta.url);

Deno.test("docs: the plugin section shows the demo plugin as it is", async () => {
  const readme = await Deno.readTextFile(new URL("docs/docker-glue.md", root));
  const plugin = await Deno.readTextFile(
    new URL("examples/plugins/demo_handler.ts", root),
  );
  assertIncludes(readme, plugin.slice(plugin.indexOf("import { getLogger }")));
});

Deno.test("docs: the template contract in architecture.md is the renderer's list of variables", async () => {
  const doc = await Deno.readTextFile(new URL("docs/architecture.md", root));
  const source = await Deno.readTextFile(
    new URL("lib/haproxy/render/render.ts", root),
  );
  const context = source.slice(
    source.indexOf("this.#template.render({"),
    source.indexOf("});", source.indexOf("this.#template.render({")),
  );
  const given = [...context.matchAll(/^\s{8}([a-z_]+)[,:]/gm)].map((m) =>
    m[1]!
  );
  const contract = doc.slice(doc.indexOf("## The template contract"));
  const listed = [
    ...contract.slice(0, contract.search(/What\s+each/))
      .matchAll(/`([a-z_]+)`/g),
  ].map((m) => m[1]!);
  assertEquals(listed.sort(), given.sort());
});
