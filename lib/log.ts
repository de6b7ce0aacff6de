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

/** Formats a record as `TIME LEVEL message`. */
export function formatRecord(record: LogRecord): string {
  const text = record.message.map((part, i) =>
    i % 2 === 0 ? String(part) : formatValue(part)
  ).join("");
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

/** Sends every `docker-glue` log record at `level` or above to standard error. */
export async function setupLogging(level: LogLevel): Promise<void> {
  await configure({
    reset: true,
    sinks: {
      stderr: (record: LogRecord) =>
        writeAll(encoder.encode(formatRecord(record))),
    },
    loggers: [
      { category: ["docker-glue"], lowestLevel: level, sinks: ["stderr"] },
      {
        category: ["logtape", "meta"],
        lowestLevel: "warning",
        sinks: ["stderr"],
      },
    ],
  });
}
