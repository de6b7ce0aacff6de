/**
 * Installs a rendered configuration safely: write a temp file beside the
 * target, validate it with `haproxy -c`, rename it over the target, reload.
 *
 * @module
 */

import {
  dirname,
  readOrNull,
  syncDirOf,
  tempBeside,
  writeAtomically,
  writeSynced,
} from "../../util/files.ts";

/**
 * The configuration holds the sticky-session cookie secret: HAProxy reads
 * it as root, nobody else needs to.
 */
const CONFIG_MODE = 0o600;
/** Maps and the crt-list name hosts and files, nothing secret. */
const COMPANION_MODE = 0o644;

/** How to validate, install and reload. */
export interface ApplyOptions {
  /** The configuration HAProxy runs from. */
  readonly configFile: string;
  /** HAProxy executable used for `-c`. */
  readonly haproxyBin: string;
  /** Extra arguments for `haproxy -c` (from the rc file). */
  readonly checkArgs: readonly string[];
  /** Reload command as argv; empty means do not reload. */
  readonly reloadCmd: readonly string[];
  /**
   * Files the configuration names and HAProxy reads with it (the host map):
   * validated together with it, installed just before it.
   */
  readonly companions?: readonly { path: string; text: string }[];
  /** How long the check and the reload command may take; {@link COMMAND_TIMEOUT_MS} by default. */
  readonly timeoutMs?: number;
}

/** What {@link applyConfig} did. */
export type ApplyOutcome = "unchanged" | "applied";

/** HAProxy rejected the rendered configuration; the installed one was kept. */
export class ConfigRejectedError extends Error {
  /** Where the rejected file was kept. */
  readonly rejectedFile: string;
  /** HAProxy's own error lines. */
  readonly details: readonly string[];
  /** The text HAProxy rejected: the lines its errors name are this text's. */
  readonly text: string;

  constructor(
    configFile: string,
    rejectedFile: string,
    details: string[],
    text: string,
    message =
      `HAProxy rejected the new configuration for ${configFile}; kept the running one, rejected file at ${rejectedFile}`,
  ) {
    super(message);
    this.name = "ConfigRejectedError";
    this.rejectedFile = rejectedFile;
    this.details = details;
    this.text = text;
  }
}

/** The reload command failed after the new configuration was installed. */
export class ReloadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ReloadError";
  }
}

function outputLines(output: Uint8Array): string[] {
  return new TextDecoder().decode(output).split("\n").map((line) =>
    line.trimEnd()
  ).filter((line) => line !== "");
}

/**
 * How long `haproxy -c` and the reload command may run. A file at the label
 * size limits (route_limits.ts) checks in well under a second here; a check
 * still running after this is stuck (a hash or resolver that does not come
 * back), and the updates of every other container wait behind it.
 */
export const COMMAND_TIMEOUT_MS = 30_000;

/** Runs a program with an argv array and collects its output; killed after `timeoutMs`. */
async function run(
  argv: readonly string[],
  timeoutMs = COMMAND_TIMEOUT_MS,
): Promise<
  { success: boolean; code: number; lines: string[]; timedOut: boolean }
> {
  const [program, ...args] = argv;
  if (program === undefined) {
    return { success: true, code: 0, lines: [], timedOut: false };
  }
  const child = new Deno.Command(program, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    // Like HAProxy itself (process.ts): Ctrl-C in the terminal must not
    // kill a check or reload half-way, where a killed `haproxy -c` would
    // read as a rejected configuration and undo a good change. (Deno
    // honours `detached` for spawn(), not for output().)
    detached: true,
  }).spawn();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    // Its own process group: whatever it started goes with it.
    try {
      Deno.kill(-child.pid, "SIGKILL");
    } catch {
      child.kill("SIGKILL");
    }
  }, timeoutMs);
  try {
    const output = await child.output();
    return {
      success: output.success && !timedOut,
      code: output.code,
      lines: [...outputLines(output.stderr), ...outputLines(output.stdout)],
      timedOut,
    };
  } finally {
    clearTimeout(timer);
  }
}

/** HAProxy's error lines of a failed check, or what stopped it. */
function checkDetails(
  check: { lines: string[]; timedOut: boolean },
  timeoutMs: number,
): string[] {
  const lines = check.lines.filter((line) => !line.startsWith("[NOTICE]"));
  return check.timedOut
    ? [
      ...lines,
      `haproxy -c did not finish within ${timeoutMs / 1000} s and was stopped`,
    ]
    : lines;
}

/**
 * Validates `text` with `haproxy -c` and, if it is valid and differs from the
 * installed file, installs it atomically and runs the reload command.
 *
 * @throws {ConfigRejectedError} when HAProxy rejects the configuration.
 * @throws {ReloadError} when the reload command fails (the file is installed).
 */
export async function applyConfig(
  text: string,
  options: ApplyOptions,
): Promise<ApplyOutcome> {
  const { configFile, timeoutMs = COMMAND_TIMEOUT_MS } = options;
  const companions = [];
  for (const file of options.companions ?? []) {
    if (await readOrNull(file.path) !== file.text) companions.push(file);
  }
  if (await readOrNull(configFile) === text && companions.length === 0) {
    return "unchanged";
  }
  // Same directory as the target, so the rename is atomic.
  const temp = tempBeside(configFile);
  const temps = companions.map((file) => ({
    ...file,
    temp: tempBeside(file.path),
  }));
  // The check reads the new companions through their temporary names.
  let checked = text;
  for (const file of temps) checked = checked.replaceAll(file.path, file.temp);
  let installed = false;
  try {
    for (const file of temps) {
      await writeSynced(file.temp, file.text, COMPANION_MODE);
    }
    await writeSynced(temp, checked, CONFIG_MODE);
    const check = await run([
      options.haproxyBin,
      "-c",
      "-f",
      temp,
      ...options.checkArgs,
    ], timeoutMs);
    if (!check.success) {
      const rejected = `${configFile}.rejected`;
      await writeAtomically(rejected, text, CONFIG_MODE);
      // HAProxy names the file it checked; name the one the operator can open.
      const details = checkDetails(check, timeoutMs)
        .map((line) => line.replaceAll(temp, rejected));
      throw new ConfigRejectedError(configFile, rejected, details, text);
    }
    for (const file of temps) await Deno.rename(file.temp, file.path);
    if (checked !== text) {
      await Deno.remove(temp);
      await writeSynced(temp, text, CONFIG_MODE);
    }
    await Deno.rename(temp, configFile);
    installed = true;
    // The renames reach the disk with their directories: one path of each.
    const byDir = new Map(
      [configFile, ...temps.map((file) => file.path)].map((path) =>
        [dirname(path), path] as const
      ),
    );
    for (const path of byDir.values()) await syncDirOf(path);
  } finally {
    if (!installed) {
      for (const path of [temp, ...temps.map((file) => file.temp)]) {
        await Deno.remove(path).catch(() => {});
      }
    }
  }
  await reload(options.reloadCmd, timeoutMs);
  return "applied";
}

/**
 * Checks a configuration and the files it reads with `haproxy -c`, without
 * touching the installed ones: they are written to a directory beside the
 * configuration (every path they name starts with the configuration's),
 * checked there, and removed.
 *
 * @throws {ConfigRejectedError} when HAProxy rejects the configuration.
 */
export async function checkConfig(
  text: string,
  companions: readonly { path: string; text: string }[],
  options: Pick<
    ApplyOptions,
    "configFile" | "haproxyBin" | "checkArgs" | "timeoutMs"
  >,
): Promise<void> {
  const { configFile, timeoutMs = COMMAND_TIMEOUT_MS } = options;
  const dir = tempBeside(configFile);
  const base = `${dir}/${configFile.slice(configFile.lastIndexOf("/") + 1)}`;
  const moved = (path: string) =>
    path.startsWith(configFile) ? base + path.slice(configFile.length) : null;
  try {
    await Deno.mkdir(dir, { mode: 0o700 });
    for (const file of companions) {
      const path = moved(file.path);
      if (path === null) continue;
      await Deno.mkdir(dirname(path), {
        recursive: true,
      });
      await Deno.writeTextFile(path, file.text.replaceAll(configFile, base));
    }
    await Deno.writeTextFile(base, text.replaceAll(configFile, base));
    const check = await run([
      options.haproxyBin,
      "-c",
      "-f",
      base,
      ...options.checkArgs,
    ], timeoutMs);
    if (!check.success) {
      const details = checkDetails(check, timeoutMs)
        .map((line) => line.replaceAll(base, configFile));
      throw new ConfigRejectedError(
        configFile,
        "",
        details,
        text,
        `HAProxy rejects the configuration that would replace ${configFile}`,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/**
 * Runs the reload command.
 *
 * @throws {ReloadError} when it exits non-zero or cannot start.
 */
export async function reload(
  reloadCmd: readonly string[],
  timeoutMs = COMMAND_TIMEOUT_MS,
): Promise<void> {
  let result;
  try {
    result = await run(reloadCmd, timeoutMs);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new ReloadError(
        `Reload command ${JSON.stringify(reloadCmd.join(" "))} not found`,
      );
    }
    throw error;
  }
  if (result.timedOut) {
    throw new ReloadError(
      `Reload command ${
        JSON.stringify(reloadCmd.join(" "))
      } did not finish within ${timeoutMs / 1000} s and was stopped`,
    );
  }
  if (!result.success) {
    throw new ReloadError(
      `Reload command ${
        JSON.stringify(reloadCmd.join(" "))
      } exited with status ${result.code}${
        result.lines.length > 0 ? `: ${result.lines.join(" | ")}` : ""
      }`,
    );
  }
}

/** The first line docker-balancer's built-in templates write. */
export const WRITTEN_BY = "# Written by docker-balancer.";

/**
 * Keeps a configuration docker-balancer did not write (one without
 * {@link WRITTEN_BY}, such as a distribution's stock haproxy.cfg) before it
 * is first replaced: as `<file>.orig`, or `<file>.orig.1`, `.orig.2` ...
 * when an earlier one holds other text, so no operator's file is lost.
 * Returns the path it was kept at, or null when there was nothing to keep
 * or a copy with this text exists already.
 */
export async function keepForeignConfig(
  configFile: string,
): Promise<string | null> {
  const current = await readOrNull(configFile);
  if (current === null || current.includes(WRITTEN_BY)) return null;
  for (let n = 0;; n++) {
    const kept = n === 0 ? `${configFile}.orig` : `${configFile}.orig.${n}`;
    const there = await readOrNull(kept);
    if (there === current) return null;
    if (there !== null) continue;
    // The operator's file may hold secrets of its own.
    await Deno.writeTextFile(kept, current, { createNew: true, mode: 0o600 });
    return kept;
  }
}
