/**
 * What the tests ask of other processes.
 *
 * @module
 */

/**
 * The state `ps` reports for `pid` (its first letter: R, S, D, Z, ...), or
 * null when there is no such process. `ps` rather than `/proc/PID/stat`:
 * Deno lets only a program with every permission read another process's
 * files under /proc, and the tests run with the narrower set.
 */
export async function processState(pid: number): Promise<string | null> {
  const out = await new Deno.Command("ps", {
    args: ["-o", "stat=", "-p", String(pid)],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).output();
  const state = new TextDecoder().decode(out.stdout).trim();
  return out.success && state !== "" ? state.slice(0, 1) : null;
}

/** Whether `pid` is gone, or a zombie waiting for its parent: not running. */
export async function notRunning(pid: number): Promise<boolean> {
  const state = await processState(pid);
  return state === null || state === "Z";
}
