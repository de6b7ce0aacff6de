/**
 * Reads HAProxy's options from a service rc file: `/etc/default/haproxy`
 * (Debian, `EXTRAOPTS`) or `/etc/sysconfig/haproxy` (Red Hat, `OPTIONS`).
 *
 * @module
 */

import { errorMessage } from "../../util/error_message.ts";
import { splitArgs } from "../../util/argv.ts";

/** Rc files tried in order when `--rc` is not given. */
export const DEFAULT_RC_FILES: readonly string[] = [
  "/etc/default/haproxy",
  "/etc/sysconfig/haproxy",
];

/**
 * Extracts the extra HAProxy arguments from rc file text: the words of
 * `EXTRAOPTS` and `OPTIONS`, in that order, split on whitespace. The file is read as `NAME=value`
 * lines, not run as shell, so `$VAR` and `$(...)` stay literal.
 *
 * @throws {SyntaxError} when a value has an unterminated quote.
 */
export function parseRc(text: string): string[] {
  const values = new Map<string, string>();
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (match === null) continue;
    values.set(match[1] as string, match[2] as string);
  }
  const args: string[] = [];
  for (const name of ["EXTRAOPTS", "OPTIONS"]) {
    const raw = values.get(name);
    if (raw === undefined) continue;
    // Unquote the assignment, then split the value on whitespace, as the
    // service manager does when it expands $EXTRAOPTS unquoted.
    const value = splitArgs(raw).join(" ");
    args.push(...value.split(/\s+/).filter((word) => word !== ""));
  }
  return args;
}

/**
 * Reads the rc file: the given one (which must exist), or the first default
 * one that exists, or none. Returns its path and arguments.
 */
export async function readRc(
  path: string | undefined,
): Promise<{ path: string | null; args: string[] }> {
  const candidates = path === undefined ? DEFAULT_RC_FILES : [path];
  for (const candidate of candidates) {
    let text: string;
    try {
      text = await Deno.readTextFile(candidate);
    } catch (error) {
      if (path === undefined && error instanceof Deno.errors.NotFound) continue;
      throw new Error(
        `Cannot read rc file ${candidate}: ${errorMessage(error)}`,
        { cause: error },
      );
    }
    try {
      return { path: candidate, args: parseRc(text) };
    } catch (error) {
      throw new SyntaxError(
        `Cannot parse rc file ${candidate}: ${errorMessage(error)}`,
      );
    }
  }
  return { path: null, args: [] };
}
