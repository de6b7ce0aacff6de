/**
 * Whether root may load a handler file, run a handler script or import a
 * handler module, judged as sshd judges its keys (StrictModes): the file and
 * every directory above it must belong to root and be writable by nobody
 * else, or anyone who can change them runs code as root. A directory that
 * others may write but that has the sticky bit (`/tmp`) is allowed: there
 * nobody may replace what root owns.
 *
 * @module
 */

import { dirname } from "../util/files.ts";

/**
 * The user id of this process (`--allow-sys=uid`; Deno reads nothing under
 * /proc/self without every permission).
 */
export function processUid(): number {
  return Deno.uid() ?? -1;
}

const STICKY = 0o1000;

/**
 * Why `path` must not be loaded by a process running as `uid`, or null
 * when it may. Only root is checked: another user runs only what it could
 * run anyway.
 */
export async function untrustedBecause(
  path: string,
  uid: number,
): Promise<string | null> {
  if (uid !== 0) return null;
  let current = await Deno.realPath(path);
  let first = true;
  for (;;) {
    const info = await Deno.stat(current);
    const mode = info.mode ?? 0;
    const what = first ? "it" : `its directory ${current}`;
    if (info.uid !== 0) {
      return `${what} belongs to uid ${info.uid}, not root`;
    }
    if ((mode & 0o022) !== 0 && (first || (mode & STICKY) === 0)) {
      return `${what} is writable by ${
        (mode & 0o002) !== 0 ? "every user" : "its group"
      } (mode ${(mode & 0o7777).toString(8)})`;
    }
    if (current === "/") return null;
    current = dirname(current);
    first = false;
  }
}

/** A file root must not load, with the reason. */
export class UntrustedFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UntrustedFileError";
  }
}

/**
 * Throws when `path` must not be loaded by `uid`.
 *
 * @throws {UntrustedFileError} naming the file and the reason.
 */
export async function checkTrusted(
  path: string,
  uid: number,
  what: string,
): Promise<void> {
  const reason = await untrustedBecause(path, uid);
  if (reason !== null) {
    throw new UntrustedFileError(
      `refused ${what} ${path}: ${reason}; running as root, docker-glue loads only what root owns and nobody else can change`,
    );
  }
}
