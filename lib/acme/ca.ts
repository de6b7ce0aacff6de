/**
 * What talking to an ACME CA needs besides the protocol: the roots its TLS
 * is checked against, and its errors told in one line.
 *
 * @module
 */

import { readOrNull } from "../util/files.ts";
import { SYSTEM_CA_FILES } from "../permissions.ts";

/**
 * The system's CA bundle, the first of {@link SYSTEM_CA_FILES} there is.
 *
 * @throws {Error} naming the places looked at when there is none.
 */
export async function systemRoots(): Promise<string> {
  for (const file of SYSTEM_CA_FILES) {
    const text = await readOrNull(file);
    if (text !== null) return text;
  }
  throw new Error(
    `no system CA bundle at ${
      SYSTEM_CA_FILES.join(", ")
    }: give the CA's roots with --acme-ca-file`,
  );
}

/** An ACME or network error in one line. */
export function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const text = error.message.split("\n").map((line) => line.trim())
    .filter(Boolean).join(" ");
  const code = (error as { code?: string }).code;
  return code !== undefined && !text.includes(code) ? `${code}: ${text}` : text;
}
