/**
 * Undo steps for a test's set-up, registered as each thing is made, so a
 * failure anywhere (set-up included) still removes everything the test
 * created so far.
 *
 * @module
 */

/** A stack of undo steps, run last-in first-out. */
export class Cleanup {
  readonly #steps: { what: string; undo: () => unknown }[] = [];
  /** The test failed before its clean-up: undo steps may say more of why. */
  failed = false;

  /**
   * Registers `undo` for something just made; returns `value`, so set-up
   * reads `const net = cleanup.add("network", await createNetwork(..), (n) => n.remove())`.
   */
  add<T>(what: string, value: T, undo: (value: T) => unknown): T {
    this.#steps.push({ what, undo: () => undo(value) });
    return value;
  }

  /** Registers an undo step that needs no value. */
  defer(what: string, undo: () => unknown): void {
    this.#steps.push({ what, undo });
  }

  /**
   * Runs every step, newest first, each even when an earlier one failed.
   * Resolves to the failures, each naming its step.
   */
  async run(): Promise<Error[]> {
    const errors: Error[] = [];
    while (this.#steps.length > 0) {
      const { what, undo } = this.#steps.pop()!;
      try {
        await undo();
      } catch (error) {
        errors.push(
          new Error(`cleanup of ${what} failed: ${String(error)}`, {
            cause: error,
          }),
        );
      }
    }
    return errors;
  }
}

/**
 * Runs `body` with a {@link Cleanup} and always runs the cleanup after it.
 * When `body` failed, that failure is what the test reports (a cleanup
 * failure is printed beside it); otherwise a failed cleanup step fails the
 * test, since it left something behind or found a fault on the way out.
 */
export async function withCleanup<T>(
  body: (cleanup: Cleanup) => Promise<T>,
): Promise<T> {
  const cleanup = new Cleanup();
  let result: T;
  try {
    result = await body(cleanup);
  } catch (error) {
    cleanup.failed = true;
    for (const failure of await cleanup.run()) console.error(failure.message);
    throw error;
  }
  const failures = await cleanup.run();
  if (failures.length === 1) throw failures[0];
  if (failures.length > 1) {
    throw new AggregateError(
      failures,
      failures.map((f) => f.message).join("; "),
    );
  }
  return result;
}

/** Runs `body` with a new temporary directory, removed afterwards whatever happens. */
export async function withTempDir<T>(
  prefix: string,
  body: (dir: string) => Promise<T>,
): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    return await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
