/**
 * `deno task compile [FLAGS...]`: builds every binary in dist/. Extra flags
 * (for example `--allow-write=/srv/haproxy`) are added to each binary's
 * permissions. `deno compile` downloads its runtime (denort) unless
 * DENORT_BIN points at one, which makes an offline build possible.
 *
 * @module
 */

import { compileArgs, TARGETS } from "./targets.ts";

for (const target of TARGETS) {
  const args = compileArgs(target, Deno.args);
  console.error(`deno ${args.join(" ")}`);
  const status = await new Deno.Command(Deno.execPath(), {
    args,
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn().status;
  if (!status.success) Deno.exit(status.code);
}
