/**
 * The binaries docker-glue builds and the arguments `deno compile` gets for
 * each, shared by the compile task, the run task and the tests.
 *
 * @module
 */

import {
  BALANCER_PERMISSIONS,
  GLUE_PERMISSIONS,
  RUNTIME_FLAGS,
} from "../lib/permissions.ts";

/** A binary: its entry point, output path and permissions. */
export interface Target {
  /** Entry point, relative to the project root. */
  readonly entry: string;
  /** Output path of the compiled binary. */
  readonly output: string;
  /** Permission flags, the same from source and compiled. */
  readonly permissions: readonly string[];
}

/** Every binary the project ships. */
export const TARGETS: readonly Target[] = [
  {
    entry: "main.ts",
    output: "dist/docker-glue",
    permissions: GLUE_PERMISSIONS,
  },
  {
    entry: "balancer.ts",
    output: "dist/docker-balancer",
    permissions: BALANCER_PERMISSIONS,
  },
];

/**
 * Flags an entry point runs with: the V8 settings and its permissions.
 *
 * @throws {RangeError} for a file that is not an entry point.
 */
export function permissionsFor(entry: string): readonly string[] {
  const target = TARGETS.find((t) => t.entry === entry.replace(/^\.\//, ""));
  if (target === undefined) {
    throw new RangeError(
      `Unknown entry point "${entry}": expected one of ${
        TARGETS.map((t) => t.entry).join(", ")
      }`,
    );
  }
  return [...RUNTIME_FLAGS, ...target.permissions];
}

/** The `deno compile` arguments for a target, with any extra flags before the entry point. */
export function compileArgs(
  target: Target,
  extra: readonly string[] = [],
): string[] {
  return [
    "compile",
    "--no-check",
    // The handler tree is imported by the registry with literal specifiers,
    // so it is embedded anyway; naming it keeps that explicit.
    "--include",
    "handlers/",
    ...RUNTIME_FLAGS,
    ...target.permissions,
    ...extra,
    "--output",
    target.output,
    target.entry,
  ];
}
