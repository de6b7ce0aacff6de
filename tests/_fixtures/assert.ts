/**
 * Assertions for tests, on top of `node:assert` (JSR's @std/assert cannot be
 * reached from our machines).
 *
 * @module
 */

import assert from "node:assert/strict";

/** Deep equality. */
export function assertEquals<T>(
  actual: T,
  expected: T,
  message?: string,
): void {
  assert.deepStrictEqual(actual, expected, message);
}

/** Truthiness. */
export function assertTrue(value: unknown, message?: string): asserts value {
  assert.ok(value, message);
}

/** `text` contains `part`. */
export function assertIncludes(
  text: string,
  part: string,
  message?: string,
): void {
  assert.ok(
    text.includes(part),
    message ?? `expected ${JSON.stringify(part)} in:\n${text}`,
  );
}

/** `text` does not contain `part`. */
export function assertExcludes(
  text: string,
  part: string,
  message?: string,
): void {
  assert.ok(
    !text.includes(part),
    message ?? `did not expect ${JSON.stringify(part)} in:\n${text}`,
  );
}

/** Checks that `error` is a `type` whose message contains `part`. */
function assertError(
  error: unknown,
  type: abstract new (...args: never[]) => Error,
  part: string,
): Error {
  assert.ok(error instanceof type, `expected ${type.name}, got ${error}`);
  assert.ok(
    error.message.includes(part),
    `expected ${JSON.stringify(part)} in ${JSON.stringify(error.message)}`,
  );
  return error;
}

/** `fn` throws an instance of `type` whose message contains `part`. */
export function assertThrows(
  fn: () => unknown,
  type: abstract new (...args: never[]) => Error,
  part = "",
): Error {
  try {
    fn();
  } catch (error) {
    return assertError(error, type, part);
  }
  throw new assert.AssertionError({ message: "expected an exception" });
}

/** The promise rejects with an instance of `type` whose message contains `part`. */
export async function assertRejects(
  fn: () => Promise<unknown>,
  type: abstract new (...args: never[]) => Error,
  part = "",
): Promise<Error> {
  try {
    await fn();
  } catch (error) {
    return assertError(error, type, part);
  }
  throw new assert.AssertionError({ message: "expected a rejection" });
}
