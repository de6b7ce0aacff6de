/**
 * The template search path as `--template-dir` describes it.
 *
 * @module
 */

/**
 * Resolves a `:`-separated `--template-dir` value against the default search
 * path. A leading `:` appends the given directories after the defaults, a
 * trailing `:` puts them before the defaults, and a value with neither
 * replaces the defaults. Duplicates keep their first place.
 */
export function resolveTemplateDirs(
  value: string | undefined,
  defaults: readonly string[],
): string[] {
  if (value === undefined || value === "") return [...defaults];
  const given = value.split(":").filter((dir) => dir !== "");
  const dirs = value.startsWith(":")
    ? [...defaults, ...given]
    : value.endsWith(":")
    ? [...given, ...defaults]
    : given;
  return [...new Set(dirs)];
}
