/**
 * What a change would do, for `docker-balancer -1 --dry-run --diff`: a
 * unified diff of every file against the installed one, and the runtime
 * operations the engine would send instead of a reload. Pure.
 *
 * @module
 */

import { structuredPatch } from "diff";
import type { FileChange, Preview } from "../haproxy/dry_run.ts";
import { commandsFor } from "../haproxy/plan/runtime_ops.ts";

/** Exit statuses of `--diff`; usage errors keep 2 and failures 1. */
export const DIFF_EXIT = {
  /** Nothing would change. */
  none: 0,
  /** The change goes through the runtime API: no reload. */
  runtime: 3,
  /** The change needs a reload. */
  reload: 4,
} as const;

/** The exit status for a preview. */
export function diffExitCode(preview: Preview): number {
  const changed = preview.files.some((file) => file.before !== file.after);
  if (preview.plan.kind === "none" && !changed) return DIFF_EXIT.none;
  return preview.plan.kind === "reload" ? DIFF_EXIT.reload : DIFF_EXIT.runtime;
}

/** A unified diff (3 lines of context) of one file; "" when it is unchanged. */
export function unifiedDiff(change: FileChange): string {
  if (change.before === change.after) return "";
  const patch = structuredPatch(
    change.before === null ? "/dev/null" : change.path,
    change.path,
    change.before ?? "",
    change.after,
    undefined,
    undefined,
    { context: 3 },
  );
  const out = [`--- ${patch.oldFileName}`, `+++ ${patch.newFileName}`];
  // An empty range starts at the line before it, as diff(1) and patch(1)
  // have it; the library counts from the line after.
  const range = (start: number, lines: number) =>
    `${lines === 0 ? start - 1 : start},${lines}`;
  for (const hunk of patch.hunks) {
    out.push(
      `@@ -${range(hunk.oldStart, hunk.oldLines)} +${
        range(hunk.newStart, hunk.newLines)
      } @@`,
      ...hunk.lines,
    );
  }
  return out.join("\n") + "\n";
}

/**
 * The preview as printed: the diffs, then what HAProxy would be told: the
 * runtime commands, or that it reloads and why.
 */
export function formatPreview(preview: Preview): string {
  const diffs = preview.files.map(unifiedDiff).filter((d) => d !== "");
  const plan = preview.plan;
  let summary: string;
  if (plan.kind === "none") {
    summary = diffs.length === 0
      ? "# No change."
      : "# HAProxy runs this already: only the files change.";
  } else if (plan.kind === "reload") {
    summary = `# Needs a reload: ${plan.reason}.`;
  } else {
    const commands = plan.ops.flatMap(commandsFor).map(({ command }) =>
      command.split("\n")[0]
    );
    summary = [
      `# No reload: ${commands.length} runtime API commands instead:`,
      ...commands.map((command) => `#   ${command}`),
    ].join("\n");
  }
  return [...diffs, summary].join("\n");
}
