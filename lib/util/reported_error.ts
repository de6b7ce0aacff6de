/**
 * The error a component throws for a failure it has already logged in full.
 *
 * @module
 */

/**
 * A failure already logged in full by whoever throws it; the caller counts
 * it as a failure without logging it again.
 */
export class ReportedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ReportedError";
  }
}
