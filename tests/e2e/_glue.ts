/**
 * What the docker-glue tests share: handler directories, the example
 * test handler, and the events it logged.
 *
 * @module
 */

import { ROOT, testTempDir } from "./_harness.ts";
import { type Cleanup } from "../_fixtures/cleanup.ts";

export const opts = { sanitizeOps: false, sanitizeResources: false };

/** A handler directory with `files` in it; `cleanup` removes it. */
export async function handlerDir(
  cleanup: Cleanup,
  files: Record<string, string>,
): Promise<{ path: string }> {
  const path = await testTempDir(cleanup, "docker-glue-handlers-");
  for (const [name, text] of Object.entries(files)) {
    await Deno.writeTextFile(`${path}/${name}`, text);
  }
  return { path };
}

export const example = (name: string) =>
  Deno.readTextFileSync(`${ROOT}docker-glue.d/${name}.ini.example`);

/** The shipped test.ini, logging to `log` (a file of the test's own). */
export const testIni = (log: string) => `${example("test")}log-file=${log}\n`;

/** The events test-handler.sh logged to `log` for one container, in order. */
export async function loggedEvents(log: string, id: string): Promise<string[]> {
  const text = await Deno.readTextFile(log).catch(() => "");
  return text.split("\n").filter((l) => l.includes(`container_id=[${id}]`)).map(
    (l) => /event=\[([^\]]*)\]/.exec(l)?.[1] ?? "?",
  );
}

export function isSubsequence(wanted: string[], seen: string[]): boolean {
  let i = 0;
  for (const event of seen) if (event === wanted[i]) i++;
  return i === wanted.length;
}
