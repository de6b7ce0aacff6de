/**
 * Where the agent looks for handler INI files and handler scripts.
 *
 * @module
 */

function normalize(path: string): string {
  const absolute = path.startsWith("/");
  const parts: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (parts.length > 0 && parts[parts.length - 1] !== "..") parts.pop();
      else if (!absolute) parts.push("..");
    } else parts.push(part);
  }
  return (absolute ? "/" : "") + parts.join("/") || (absolute ? "/" : ".");
}

function unique(paths: string[]): string[] {
  return [...new Set(paths.map(normalize))];
}

/**
 * Handler directories: `docker-glue.d` under `../etc` and `../../etc`
 * relative to the program's directory, under `/etc`, and in the working
 * directory, without duplicates.
 */
export function defaultHandlerDirs(programDir: string, cwd: string): string[] {
  return unique([
    `${programDir}/../etc/docker-glue.d`,
    `${programDir}/../../etc/docker-glue.d`,
    "/etc/docker-glue.d",
    `${cwd}/docker-glue.d`,
  ]);
}

/**
 * Script directories: `libexec/docker-glue` under `..` and `../..` relative
 * to the program's directory, `/usr/libexec/docker-glue`, and
 * `handler-scripts` in the working directory, without duplicates.
 */
export function defaultScriptDirs(programDir: string, cwd: string): string[] {
  return unique([
    `${programDir}/../libexec/docker-glue`,
    `${programDir}/../../libexec/docker-glue`,
    "/usr/libexec/docker-glue",
    `${cwd}/handler-scripts`,
  ]);
}

/** Splits a `:`-separated path list, resolving relative entries against `cwd`. */
export function parsePathList(value: string, cwd: string): string[] {
  return unique(
    value.split(":").filter((p) => p !== "").map((p) =>
      p.startsWith("/") ? p : `${cwd}/${p}`
    ),
  );
}

/**
 * The `*.ini` files in `dirs` (never `*.ini.example`), sorted by name within
 * each directory. A file name already found in an earlier directory is
 * skipped, so `/etc/docker-glue.d/lb.ini` can override a packaged one.
 * Missing directories are skipped.
 */
export async function findHandlerFiles(
  dirs: readonly string[],
): Promise<{ files: string[]; shadowed: string[] }> {
  const seen = new Set<string>();
  const files: string[] = [];
  const shadowed: string[] = [];
  for (const dir of dirs) {
    const names: string[] = [];
    try {
      for await (const entry of Deno.readDir(dir)) {
        if (entry.name.endsWith(".ini") && !entry.isDirectory) {
          names.push(entry.name);
        }
      }
    } catch (error) {
      if (
        error instanceof Deno.errors.NotFound ||
        error instanceof Deno.errors.NotADirectory
      ) {
        continue;
      }
      throw error;
    }
    for (const name of names.sort()) {
      if (seen.has(name)) shadowed.push(`${dir}/${name}`);
      else {
        seen.add(name);
        files.push(`${dir}/${name}`);
      }
    }
  }
  return { files, shadowed };
}

async function isExecutableFile(path: string): Promise<boolean> {
  try {
    const info = await Deno.stat(path);
    return info.isFile && info.mode !== null && (info.mode & 0o111) !== 0;
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) throw error;
    return false;
  }
}

/**
 * Resolves a handler script: an absolute path is used as it is (if it is an
 * executable file); a name is looked up in `dirs`, first executable match.
 * Returns null when nothing fits.
 */
export async function resolveScript(
  script: string,
  dirs: readonly string[],
): Promise<string | null> {
  if (script.startsWith("/")) {
    return await isExecutableFile(script) ? script : null;
  }
  for (const dir of dirs) {
    const path = `${dir}/${script}`;
    if (await isExecutableFile(path)) return path;
  }
  return null;
}
