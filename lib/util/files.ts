/**
 * Files written so that a reader never sees half of one: a temporary file
 * beside the target, then a rename over it.
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
 * Writes `text` to `path` through a temporary file beside it and a rename,
 * so readers see the old content or the new, never a part; an unchanged
 * file is left alone. `mode` applies to a file written anew.
 */
export async function writeAtomically(
  path: string,
  text: string,
  mode = 0o644,
): Promise<void> {
  if (await readOrNull(path) === text) return;
  const temp = tempBeside(path);
  try {
    await Deno.writeTextFile(temp, text, { mode });
    await Deno.rename(temp, path);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
}
