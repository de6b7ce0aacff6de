/**
 * Durations written as a whole number and a unit, as HAProxy reads them.
 *
 * @module
 */

const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Milliseconds of `500ms`, `30s`, `5m` or `24h`; null for any other form. */
export function durationMs(text: string): number | null {
  const match = /^([0-9]+)(ms|s|m|h)$/.exec(text);
  return match === null ? null : Number(match[1]) * UNIT_MS[match[2]!]!;
}
