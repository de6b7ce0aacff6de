/**
 * Files written so that a reader never sees half of one, and a power loss
 * never leaves an empty one: a temporary file beside the target, synced,
 * renamed over it, and the directory synced.
 *
 * @module
 */

/**
 * A hidden temporary name in the same directory as `path`, so that renaming
 * it over `path` is atomic.
 */
export function tempBeside(path: string): string {
  const slash = path.lastIndexOf("/");
  return `${path.slice(0, slash + 1)}.${path.slice(slash + 1)}.${Deno.pid}.${
    crypto.randomUUID().slice(0, 8)
  }.tmp`;
}

/** The directory part of `path`: `/` for a file at the root, `.` for a bare name. */
export function dirname(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash > 0 ? path.slice(0, slash) : slash === 0 ? "/" : ".";
}

/** The text of a file, or null when there is none. */
export async function readOrNull(path: string): Promise<string | null> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

/**
 * Writes `text` to a new file at `path` and syncs it to disk before
 * returning, so a rename that follows never points at an empty file after
 * a power loss. The file is created with `mode` (the umask applies).
 */
export async function writeSynced(
  path: string,
  text: string,
  mode: number,
): Promise<void> {
  const file = await Deno.open(path, {
    write: true,
    createNew: true,
    mode,
  });
  try {
    const bytes = new TextEncoder().encode(text);
    for (let done = 0; done < bytes.length;) {
      done += await file.write(bytes.subarray(done));
    }
    await file.sync();
  } finally {
    file.close();
  }
}

/** Syncs the directory holding `path`, so a rename in it survives a power loss. */
export async function syncDirOf(path: string): Promise<void> {
  const dir = await Deno.open(dirname(path), { read: true });
  try {
    await dir.sync();
  } finally {
    dir.close();
  }
}

/**
 * Writes `text` to `path` through a synced temporary file beside it and a
 * rename, then syncs the directory: readers see the old content or the
 * new, never a part, and a crash leaves one or the other. An unchanged file
 * is left alone. The file gets `mode` whether it is new or not (0600 unless
 * told: a file may hold a secret).
 */
export async function writeAtomically(
  path: string,
  text: string,
  mode = 0o600,
): Promise<void> {
  if (await readOrNull(path) === text) return;
  const temp = tempBeside(path);
  try {
    await writeSynced(temp, text, mode);
    await Deno.rename(temp, path);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
  await syncDirOf(path);
}

/** The temporary names {@link tempBeside} makes: `.<name>.<pid>.<8 hex>.tmp`. */
const TEMP = /^\.(.+)\.([0-9]+)\.[0-9a-f]{8}\.tmp$/;

/**
 * Longer than any write or `haproxy -c` keeps a temporary file: an older one
 * was left by a run that died. (Asking whether its process lives needs
 * /proc, which the binaries may not read.)
 */
const STALE_MS = 60_000;

/**
 * Removes what {@link tempBeside} names that a run which died left in
 * `dir`: temporary files and check directories of another process, not
 * touched for a minute. Returns the paths removed.
 */
export async function removeStaleTemps(
  dir: string,
  now = Date.now(),
): Promise<string[]> {
  const removed: string[] = [];
  let entries;
  try {
    entries = await Array.fromAsync(Deno.readDir(dir));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return removed;
    throw error;
  }
  for (const entry of entries) {
    const pid = TEMP.exec(entry.name)?.[2];
    if (pid === undefined || Number(pid) === Deno.pid) continue;
    const path = `${dir.replace(/\/+$/, "")}/${entry.name}`;
    const modified = (await Deno.lstat(path)).mtime?.getTime() ?? now;
    if (now - modified < STALE_MS) continue;
    await Deno.remove(path, { recursive: true });
    removed.push(path);
  }
  return removed;
}
