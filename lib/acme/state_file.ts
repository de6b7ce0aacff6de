/**
 * The ACME manager's memory across restarts (`<cert dir>/.acme/state.json`):
 * each name's failures and back-off, and when the orders of the last hour
 * were placed, so neither a crash loop nor a restart resets the limits the
 * CA is spared by.
 *
 * @module
 */

import type { NameState } from "./policy.ts";
import { dirname, readOrNull, writeAtomically } from "../util/files.ts";

/** The format written; files without a version are the first format (names only). */
const VERSION = 2;

/** What the file holds. */
export interface SavedState {
  /** Per name: failures in a row and the back-off. */
  readonly names: ReadonlyMap<string, NameState>;
  /** When recent orders were placed, ms since the epoch. */
  readonly orders: readonly number[];
}

function nameState(value: unknown): NameState | null {
  if (value === null || typeof value !== "object") return null;
  const state = value as Record<string, unknown>;
  if (
    typeof state.failures !== "number" || typeof state.notBefore !== "number"
  ) return null;
  return {
    failures: state.failures,
    notBefore: state.notBefore,
    ...(typeof state.lastError === "string"
      ? { lastError: state.lastError }
      : {}),
  };
}

/**
 * Reads the file's text; entries that are not states are left out.
 *
 * @throws {SyntaxError} for text that is not a JSON object.
 */
export function parseState(text: string): SavedState {
  const parsed: unknown = JSON.parse(text);
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new SyntaxError("not a JSON object");
  }
  const doc = parsed as Record<string, unknown>;
  const versioned = doc.version === VERSION;
  const names = new Map<string, NameState>();
  const source = versioned ? doc.names : doc;
  if (source !== null && typeof source === "object") {
    for (const [host, value] of Object.entries(source)) {
      const state = nameState(value);
      if (state !== null) names.set(host, state);
    }
  }
  const orders = versioned && Array.isArray(doc.orders)
    ? doc.orders.filter((at): at is number => Number.isFinite(at))
    : [];
  return { names, orders };
}

/** The file's text for these states and orders. */
export function stateText(
  names: ReadonlyMap<string, NameState>,
  orders: readonly number[],
): string {
  return `${
    JSON.stringify(
      { version: VERSION, names: Object.fromEntries(names), orders },
      null,
      1,
    )
  }\n`;
}

/**
 * Reads the file at `path`, or null when there is none.
 *
 * @throws {SyntaxError} for a file that is not a JSON object.
 */
export async function readState(path: string): Promise<SavedState | null> {
  const text = await readOrNull(path);
  return text === null ? null : parseState(text);
}

/** Writes the file at `path` (0600, its directory 0700 when made). */
export async function writeState(
  path: string,
  names: ReadonlyMap<string, NameState>,
  orders: readonly number[],
): Promise<void> {
  await Deno.mkdir(dirname(path), {
    recursive: true,
    mode: 0o700,
  });
  await writeAtomically(path, stateText(names, orders), 0o600);
}
