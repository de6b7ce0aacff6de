/**
 * The program version, printed by `--version` of both binaries.
 *
 * @module
 */

/** docker-glue release version. */
export const VERSION = "0.1.0";
