/**
 * The error a bad setting (a flag, an INI parameter) is refused with, so an
 * entry point can report it as a usage error before anything runs.
 *
 * @module
 */

/** A setting that cannot work; the message names it. */
export class SettingsError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SettingsError";
  }
}
