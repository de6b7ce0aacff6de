/**
 * What HAProxy writes on standard error, sorted into our log levels: its
 * alerts are errors, its notices about reloads are detail, and its account
 * of a stop docker-balancer asked for is no alarm. Pure.
 *
 * @module
 */

/** A line of HAProxy's, without its syslog priority, and the level to log it at. */
export interface HAProxyLine {
  /** The text. */
  readonly line: string;
  /** Our log level for it. */
  readonly level: "debug" | "info" | "warning" | "error";
}

/** What HAProxy's master says while it stops, workers exiting cleanly included. */
const STOP_LINES =
  /Exiting Master process|exited with code (0|130|143) |All workers exited\. Exiting\.\.\. \((0|130|143)\)|Stopping (frontend|backend|proxy)|Proxy \S+ stopped/;

// Notices tell of every reload, which we log ourselves; an old worker
// stopping its proxies is how a reload ends; before the first reload there
// are no states to load.
const DETAIL =
  /\[NOTICE\]|Proxy \S+ stopped|Former worker|Can't open (global )?server state file/;

/**
 * Reads one raw line (in HAProxy's "short" log format it starts with a
 * syslog priority); `stopping` when docker-balancer asked HAProxy to stop.
 * Null for a blank line.
 */
export function readHAProxyLine(
  raw: string,
  stopping: boolean,
): HAProxyLine | null {
  if (raw.trim() === "") return null;
  const priority = /^<([0-9]+)>/.exec(raw);
  const line = raw.replace(/^<[0-9]+>/, "").trim();
  const severity = priority === null ? null : Number(priority[1]) % 8;
  // The stop we asked for is said once, by the process supervisor.
  if (stopping && STOP_LINES.test(line)) return { line, level: "debug" };
  if (/\[(ALERT|EMERG)\]/.test(line) || (severity !== null && severity <= 3)) {
    return { line, level: "error" };
  }
  if (DETAIL.test(line)) return { line, level: "debug" };
  if (/ is UP/.test(line)) return { line, level: "info" };
  if (/\[WARNING\]/.test(line) || severity === 4) {
    return { line, level: "warning" };
  }
  return { line, level: "info" };
}
