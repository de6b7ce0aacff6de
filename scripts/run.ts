/**
 * Runs an entry point from source with the permissions its compiled binary
 * gets (lib/permissions.ts), exactly those and no others,
 * passing on arguments, signals and the exit status. Used by
 * `deno task balancer` and `deno task glue`.
 *
 * @module
 */

import { permissionsFor } from "./targets.ts";
import { RUNTIME_ENV } from "../lib/permissions.ts";

const [entry, ...args] = Deno.args;
if (entry === undefined) {
  console.error("usage: run.ts ENTRY.ts [ARGS...]");
  Deno.exit(2);
}
const child = new Deno.Command(Deno.execPath(), {
  args: ["run", ...permissionsFor(entry), entry, ...args],
  env: { ...RUNTIME_ENV },
  stdin: "inherit",
  stdout: "inherit",
  stderr: "inherit",
}).spawn();
for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
  Deno.addSignalListener(signal, () => child.kill(signal));
}
const status = await child.status;
Deno.exit(status.code);
