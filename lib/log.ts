/**
 * Logging set-up for the entry points: one line per record on standard error,
 * which journald collects when run by systemd.
 *
 * @module
 */

import { configure, type LogLevel, type LogRecord } from "@logtape/logtape";

/** Levels `--log-level` accepts. */
export const LOG_LEVELS: readonly string[] = [
  "debug",
  "info",
  "warning",
  "error",
];

const encoder = new TextEncoder();

function formatValue(value: unknown): string {
  return typeof value === "string"
    ? value
    : Deno.inspect(value, { colors: false });
}

function messageOf(record: LogRecord): string {
  return record.message.map((part, i) =>
    i % 2 === 0 ? String(part) : formatValue(part)
  ).join("");
}

/** Formats a record as `TIME LEVEL message`. */
export function formatRecord(record: LogRecord): string {
  const text = messageOf(record);
  const level = record.level.toUpperCase().padEnd(7);
  return `${new Date(record.timestamp).toISOString()} ${level} ${
    text.replace(/\n/g, "\\n")
  }\n`;
}

function writeAll(bytes: Uint8Array): void {
  let written = 0;
  while (written < bytes.length) {
    written += Deno.stderr.writeSync(bytes.subarray(written));
  }
}

/**
 * Parses `--log-level` (`warn` is accepted for `warning`).
 *
 * @throws {RangeError} for an unknown level.
 */
export function parseLogLevel(value: string): LogLevel {
  const level = value === "warn" ? "warning" : value;
  if (!LOG_LEVELS.includes(level)) {
    throw new RangeError(
      `Invalid log level "${value}": expected one of ${LOG_LEVELS.join(", ")}`,
    );
  }
  return level as LogLevel;
}

/** A log record as the status page shows it. */
export interface RecentRecord {
  /** When it was logged (ms since the epoch). */
  readonly at: number;
  /** Its level. */
  readonly level: LogLevel;
  /** Its message. */
  readonly text: string;
}

/** How many decisions the status page keeps. */
const RECENT_MAX = 40;
// Kept as logged, and put into words only when the page is asked for.
const recent: LogRecord[] = [];
// HAProxy's own lines and scripts' output are not the daemon's decisions.
const NOT_DECISIONS = new Set([
  "docker-glue.haproxy.process",
  "docker-glue.script",
]);
const ORDER: readonly LogLevel[] = [
  "trace",
  "debug",
  "info",
  "warning",
  "error",
  "fatal",
];
const atLeast = (a: LogLevel, b: LogLevel) =>
  ORDER.indexOf(a) >= ORDER.indexOf(b);

/**
 * The last decisions logged (added, drained, reloaded and why), at info
 * and above, whatever `--log-level` prints, oldest first.
 */
export function recentRecords(): RecentRecord[] {
  return recent.map((record) => ({
    at: record.timestamp,
    level: record.level,
    text: messageOf(record),
  }));
}

function keepRecent(record: LogRecord): void {
  if (!atLeast(record.level, "info")) return;
  if (NOT_DECISIONS.has(record.category.join("."))) return;
  recent.push(record);
  if (recent.length > RECENT_MAX) recent.splice(0, recent.length - RECENT_MAX);
}

/**
 * Sends every `docker-glue` log record at `level` or above to standard
 * error, and keeps the last decisions for the status page.
 */
export async function setupLogging(level: LogLevel): Promise<void> {
  await configure({
    reset: true,
    sinks: {
      stderr: (record: LogRecord) => {
        if (atLeast(record.level, level)) {
          writeAll(encoder.encode(formatRecord(record)));
        }
      },
      recent: keepRecent,
    },
    loggers: [
      {
        category: ["docker-glue"],
        lowestLevel: atLeast(level, "info") ? "info" : level,
        sinks: ["stderr", "recent"],
      },
      {
        category: ["logtape", "meta"],
        lowestLevel: "warning",
        sinks: ["stderr"],
      },
    ],
  });
}
