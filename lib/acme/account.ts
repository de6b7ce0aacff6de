/**
 * The ACME account key: one per CA directory URL, kept beside the
 * certificates in `<cert dir>/.acme/`, made once.
 *
 * @module
 */

import acme from "acme-client";
import { readOrNull, writeAtomically } from "../util/files.ts";

/** Where the account key for `directoryUrl` lives under the certificate directory `certDir`. */
export async function accountKeyFile(
  certDir: string,
  directoryUrl: string,
): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest(
      "SHA-256",
      new TextEncoder().encode(directoryUrl),
    ),
  );
  const id = [...digest.slice(0, 6)].map((b) => b.toString(16).padStart(2, "0"))
    .join("");
  return `${certDir}/.acme/account-${id}.key`;
}

/** The account key, and why an earlier one was replaced, if it was. */
export interface AccountKey {
  readonly file: string;
  readonly key: string;
  /** Why the file's key could not be used (it was replaced), or null. */
  readonly replaced: { readonly error: unknown } | null;
}

/**
 * The account key for `directoryUrl`: the one kept in `certDir`, or a new
 * P-256 key written there (0600) when there is none or the file does not
 * hold a private key (a power loss during an older write could leave it
 * empty or cut).
 */
export async function accountKey(
  certDir: string,
  directoryUrl: string,
): Promise<AccountKey> {
  const file = await accountKeyFile(certDir, directoryUrl);
  const existing = await readOrNull(file);
  let replaced: AccountKey["replaced"] = null;
  if (existing !== null) {
    try {
      acme.crypto.getJwk(existing);
      return { file, key: existing, replaced };
    } catch (error) {
      replaced = { error };
    }
  }
  await Deno.mkdir(`${certDir}/.acme`, { recursive: true, mode: 0o700 });
  const key = String(await acme.crypto.createPrivateEcdsaKey());
  await writeAtomically(file, key, 0o600);
  return { file, key, replaced };
}
