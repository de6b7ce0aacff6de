/**
 * An error's message for a log line or another error's text, whatever was
 * thrown.
 *
 * @module
 */

/** The message of an `Error`, or what was thrown as a string. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
