/**
 * What the load tests share: a bounded pool of parallel tasks, a quiet
 * balancer's flags, the servers a file holds, and the signal timing.
 *
 * @module
 */

import { freePort } from "./_harness.ts";

export const opts = { sanitizeOps: false, sanitizeResources: false };

/**
 * Runs `fn` over `items`, `limit` at a time; once `done()` says so, takes
 * no further item (those running finish).
 */
export async function pool<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<unknown>,
  done: () => boolean = () => false,
): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length && !done()) await fn(items[next++]!);
  }));
}

/**
 * Flags for a balancer that writes `config` but reloads nothing and opens no
 * stats page or socket: these tests count installs, HAProxy is not needed.
 */
export function quietArgs(config: string): string[] {
  return [
    "--config-file",
    config,
    "--http-bind",
    `127.0.0.1:${freePort()}`,
    "--stats-bind",
    "",
    "--stats-socket",
    "",
    "--reload-cmd",
    "",
  ];
}

export function serversIn(text: string): string[] {
  return [...text.matchAll(/^\s+server (\S+) /gm)].map((m) => m[1]!).sort();
}

/**
 * Whether the stop signal in `lines` (a debug log) arrived while an update
 * was between its render and its install, and that install then finished:
 * "Route table" (rendering), "Stopping on signal", then "Installed".
 */
export function stoppedMidUpdate(lines: readonly string[]): boolean {
  const stop = lines.findIndex((l) => l.includes("Stopping on signal"));
  if (stop < 0) return false;
  const before = lines.slice(0, stop);
  const rendered = before.findLastIndex((l) => l.includes("Route table:"));
  const installed = before.findLastIndex((l) => / Installed /.test(l));
  const finished = lines.findIndex((l, i) => i > stop && / Installed /.test(l));
  return rendered > installed && finished > stop;
}
