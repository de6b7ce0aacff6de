/**
 * The engine's two outputs that change nothing: `--dry-run`'s printed
 * configuration, and `--diff`'s preview, validated with `haproxy -c` and
 * compared with the installed files.
 *
 * @module
 */

import { type ApplyOptions, checkConfig } from "./io/apply.ts";
import { readOrNull } from "../util/files.ts";
import {
  checkedFiles,
  companionFiles,
  type Companions,
} from "./model/companions.ts";
import type { MapChange, Plan } from "./plan/plan_types.ts";
import { planFiles } from "./plan/plan.ts";
import { parseMapText } from "./model/pool.ts";
import type { TlsFiles } from "./model/tls.ts";

/** One file before (installed; null when missing) and after. */
export interface FileChange {
  /** Path of the installed file. */
  readonly path: string;
  /** Its text now, or null when there is none. */
  readonly before: string | null;
  /** Its text after the change. */
  readonly after: string;
}

/** The files and the plan of a change. */
export interface Preview {
  /** The configuration first, then the files it reads. */
  readonly files: readonly FileChange[];
  /** What the engine would do with a running HAProxy. */
  readonly plan: Plan;
}

/**
 * The configuration as `--dry-run` prints it: maps and the crt-list are
 * files of their own, shown after it as comments.
 */
export function printedConfig(
  text: string,
  companions: Companions,
  tls: TlsFiles | undefined,
): string {
  return [
    text,
    ...companionFiles(companions, tls).map((file) =>
      `# ${file.path}:\n${file.text.replace(/^/gm, "# ").replace(/# $/, "")}`
    ),
  ].join("\n");
}

/** The paths a crt-list names; the plan compares paths only. */
function crtListPaths(text: string | null): string[] {
  return (text ?? "").split("\n").map((line) =>
    line.trim().split(/\s+/)[0] ?? ""
  ).filter((path) => path !== "" && !path.startsWith("#"));
}

/**
 * Validates `text` with the files it reads, and compares them with the
 * installed ones: what the change would do.
 *
 * @throws {ConfigRejectedError} when HAProxy rejects the rendering.
 */
export async function previewChange(
  text: string,
  companions: Companions,
  apply: ApplyOptions,
  tls: TlsFiles | undefined,
): Promise<Preview> {
  const files = [
    { path: apply.configFile, text },
    ...companionFiles(companions, tls),
  ];
  await checkConfig(text, checkedFiles(companions, tls), apply);
  const before = await Promise.all(
    files.map((file) => readOrNull(file.path)),
  );
  const installed = before[0] ?? null;
  const crtList = tls === undefined ? null : await readOrNull(tls.crtList);
  const plan = installed === null
    ? { kind: "reload" as const, reason: `${apply.configFile} is not there` }
    : planFiles(installed, text, {
      maps: await Promise.all(
        companions.maps.map(async (
          { file, entries },
        ): Promise<MapChange> => ({
          file,
          before: parseMapText(await readOrNull(file) ?? ""),
          after: entries,
        })),
      ),
      ...(tls === undefined || companions.certs === null ? {} : {
        certs: {
          crtList: tls.crtList,
          before: crtListPaths(crtList).map((path) => ({ path, pem: "" })),
          after: companions.certs.certs,
        },
      }),
    });
  return {
    files: files.map((file, i) => ({
      path: file.path,
      before: before[i] ?? null,
      after: file.text,
    })),
    plan,
  };
}

/** What {@link DryRun} needs of the engine's options. */
export interface DryRunOptions {
  /** Keep a validated preview instead of printing (`--diff`). */
  readonly preview?: boolean;
  /** Where the configuration would go. */
  readonly apply: ApplyOptions;
  /** HTTPS files, when served. */
  readonly tls?: TlsFiles;
  /** Prints a configuration; console.log by default. */
  readonly print?: (text: string) => void;
}

/** `--dry-run` for the engine: each rendering printed once, or previewed (`--diff`). */
export class DryRun {
  readonly #options: DryRunOptions;
  #lastPrinted: string | null = null;

  constructor(options: DryRunOptions) {
    this.#options = options;
  }

  /**
   * Previews `text` with `--diff` and returns the preview; otherwise prints
   * it unless it was the last printed, and returns null.
   *
   * @throws {ConfigRejectedError} when `haproxy -c` rejects the preview.
   */
  async run(text: string, companions: Companions): Promise<Preview | null> {
    const { tls, apply } = this.#options;
    if (this.#options.preview) {
      return await previewChange(text, companions, apply, tls);
    }
    const printed = printedConfig(text, companions, tls);
    if (printed !== this.#lastPrinted) {
      (this.#options.print ?? ((out) => console.log(out)))(printed);
      this.#lastPrinted = printed;
    }
    return null;
  }
}
