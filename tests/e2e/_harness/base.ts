/**
 * What every end-to-end helper builds on: the repository root, CI mode, running a
 * program, and waiting for a condition.
 *
 * @module
 */

const decoder = new TextDecoder();

/** The repository root (the entry points run with it as working directory). */
export const ROOT = new URL("../../../", import.meta.url).pathname;

/**
 * Whether this is a CI run (`CI=true`). There every program a test needs is
 * installed by set-up, so a missing one fails the test instead of skipping it.
 */
export const IN_CI = Deno.env.get("CI") === "true";

/**
 * The `ignore` value of a test (or step) that needs something: ignored when
 * it is missing, except under CI, where the test runs and fails on it.
 */
export function ignoreWithout(available: boolean): boolean {
  return !available && !IN_CI;
}

/** Runs a program; returns stdout, throws with stderr on failure. */
export async function sh(program: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command(program, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(
      `${program} ${args.join(" ")} failed (${out.code}): ${
        decoder.decode(out.stderr).trim()
      }`,
    );
  }
  return decoder.decode(out.stdout).trim();
}

/** Polls `probe` until it returns a value other than undefined, or throws after `ms`. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  ms = 20000,
  every = 50,
): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, every));
  }
  throw new Error(
    `Timed out after ${ms} ms waiting for ${what}${last ? `: ${last}` : ""}`,
  );
}
