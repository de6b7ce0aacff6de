/**
 * Which containers ask to be routed and are not, and why: the route
 * model's warnings, containers left out for their state, and records a
 * source could not read. The loop counts them for metrics; `routes` and
 * the status page list them.
 *
 * @module
 */

import type { ContainerRecord, UnreadableRecord } from "../docker/container.ts";
import type { Finding, UnroutedReason } from "./findings.ts";

/** A container, or one of its ports, that is not routed. */
export interface UnroutedRow {
  /** Container name. */
  readonly container: string;
  /** Container id. */
  readonly containerId: string;
  /** Why. */
  readonly reason: UnroutedReason;
  /** The label at fault, when one is. */
  readonly label?: string;
  /** In words, with the value at fault or the container it conflicts with. */
  readonly detail: string;
}

/** Whether a container asks to be routed: it has glue_http_* or glue_tcp_* labels. */
export function wantsRoute(
  container: ContainerRecord,
  includeEnv = false,
): boolean {
  const keys = [
    ...Object.keys(container.labels),
    ...(includeEnv ? Object.keys(container.env) : []),
  ];
  return keys.some((key) => /^glue_(http|tcp)_/.test(key));
}

/**
 * Containers that ask to be routed but are not, each with its reason: the
 * route model's warnings, containers left out for their state, and the
 * records the source could not read (`bad-document`).
 */
export function unroutedOf(
  containers: readonly ContainerRecord[],
  findings: readonly Finding[],
  damped: ReadonlySet<string>,
  includeEnv = false,
  unreadable: readonly UnreadableRecord[] = [],
): UnroutedRow[] {
  // A document with a bad field names no container anyone can trust: the
  // row names its key.
  const rows: UnroutedRow[] = unreadable.map((bad) => ({
    container: bad.where,
    containerId: bad.id,
    reason: "bad-document",
    detail: bad.detail,
  }));
  for (const container of containers) {
    if (!wantsRoute(container, includeEnv)) continue;
    const row = (reason: UnroutedReason, detail: string) =>
      rows.push({
        container: container.name,
        containerId: container.id,
        reason,
        detail,
      });
    if (container.paused) row("paused", "paused; routed again on unpause");
    else if (container.health === "unhealthy") {
      row("unhealthy", "its health check fails");
    } else if (container.health === "starting") {
      row("starting", "its health check has not passed yet");
    } else if (damped.has(container.id)) {
      row(
        "damped",
        `restarted ${container.restartCount} times by its restart policy; routed once it has run for 30 s`,
      );
    }
  }
  for (const finding of findings) {
    if (finding.severity !== "warning") continue;
    rows.push({
      container: finding.container,
      containerId: finding.containerId,
      reason: finding.reason ?? "bad-label",
      ...(finding.label === undefined ? {} : { label: finding.label }),
      detail: finding.message,
    });
  }
  return rows.sort((a, b) =>
    a.container < b.container ? -1 : a.container > b.container ? 1 : 0
  );
}

/** Counts of unrouted containers by reason, every reason present (0 when none). */
export function countByReason(
  rows: readonly UnroutedRow[],
): Map<UnroutedReason, number> {
  const counts = new Map<UnroutedReason, number>(
    UNROUTED_REASONS.map((reason) => [reason, 0]),
  );
  for (const row of rows) {
    counts.set(row.reason, (counts.get(row.reason) ?? 0) + 1);
  }
  return counts;
}

/** Every reason, in the order they are documented. */
export const UNROUTED_REASONS: readonly UnroutedReason[] = [
  "bad-label",
  "not-exposed",
  "not-published",
  "no-address",
  "conflict",
  "paused",
  "unhealthy",
  "starting",
  "damped",
  "rejected",
  "bad-document",
];
