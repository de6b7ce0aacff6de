/**
 * Reads a PEM bundle as HAProxy takes it (certificate chain and private key
 * in one file) and checks it before HAProxy ever sees it: a broken file
 * must lose its own certificate, never the HTTPS frontend.
 *
 * @module
 */

import { errorMessage } from "../util/error_message.ts";
import { createPrivateKey, X509Certificate } from "node:crypto";

/** A usable certificate bundle. */
export interface CertInfo {
  /** DNS names it serves, lower case (`*.example.com` for a wildcard). */
  readonly names: readonly string[];
  /** Start of validity. */
  readonly notBefore: Date;
  /** End of validity. */
  readonly notAfter: Date;
  /** SHA-1 fingerprint of the leaf certificate, upper-case hex, as HAProxy shows it. */
  readonly fingerprint: string;
  /** The bundle as HAProxy gets it: certificates, then the key; no blank lines. */
  readonly pem: string;
}

/** A bundle that cannot be served; the message says why in words. */
export class CertificateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CertificateError";
  }
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n[\s\S]*?-----END \1-----/g;
const KEY_TYPES = new Set(["PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"]);

function normalize(block: string): string {
  return block.split(/\r?\n/).map((line) => line.trim()).filter(Boolean)
    .join("\n");
}

/**
 * Checks a PEM bundle at time `now`: at least one certificate, exactly one
 * unencrypted private key that belongs to the first certificate, and a
 * validity period that includes `now`.
 *
 * @throws {CertificateError} naming what is wrong.
 */
export function inspectPem(text: string, now: Date): CertInfo {
  const certs: string[] = [];
  const keys: string[] = [];
  for (const match of text.matchAll(BLOCK)) {
    const type = match[1] ?? "";
    if (type === "CERTIFICATE") certs.push(normalize(match[0]));
    else if (KEY_TYPES.has(type)) keys.push(normalize(match[0]));
    else if (type === "ENCRYPTED PRIVATE KEY") {
      throw new CertificateError(
        "the private key is encrypted; HAProxy needs it unencrypted",
      );
    }
  }
  const [leafPem] = certs;
  if (leafPem === undefined) {
    throw new CertificateError("no certificate (BEGIN CERTIFICATE) found");
  }
  if (keys.length !== 1) {
    throw new CertificateError(
      keys.length === 0
        ? "no private key found; put the key in the same file as the certificate"
        : `${keys.length} private keys found; expected one`,
    );
  }
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(leafPem);
  } catch (error) {
    throw new CertificateError(
      `the certificate cannot be read: ${errorMessage(error)}`,
    );
  }
  let matches: boolean;
  try {
    matches = leaf.checkPrivateKey(createPrivateKey(keys[0] as string));
  } catch (error) {
    throw new CertificateError(
      `the private key cannot be read: ${errorMessage(error)}`,
    );
  }
  if (!matches) {
    throw new CertificateError(
      "the private key does not match the certificate",
    );
  }
  // validFrom/validTo are OpenSSL's text, such as "Nov 26 12:51:49 2026 GMT".
  const notBefore = new Date(leaf.validFrom);
  const notAfter = new Date(leaf.validTo);
  if (isNaN(notBefore.getTime()) || isNaN(notAfter.getTime())) {
    throw new CertificateError(
      `unreadable validity period (${leaf.validFrom} to ${leaf.validTo})`,
    );
  }
  if (now >= notAfter) {
    throw new CertificateError(`expired on ${notAfter.toISOString()}`);
  }
  if (now < notBefore) {
    throw new CertificateError(
      `not valid before ${notBefore.toISOString()}`,
    );
  }
  return {
    names: namesOf(leaf),
    notBefore,
    notAfter,
    fingerprint: leaf.fingerprint.replaceAll(":", "").toUpperCase(),
    pem: `${[...certs, keys[0]].join("\n")}\n`,
  };
}

/** The DNS names of a certificate: its subject alternative names, else its common name. */
function namesOf(cert: X509Certificate): string[] {
  const alt = (cert.subjectAltName ?? "").split(",").map((part) => part.trim())
    .filter((part) => part.startsWith("DNS:")).map((part) =>
      part.slice(4).toLowerCase()
    );
  if (alt.length > 0) return [...new Set(alt)];
  const cn = /(?:^|\n|,\s*)CN=([^,\n]+)/.exec(cert.subject)?.[1];
  return cn === undefined ? [] : [cn.trim().toLowerCase()];
}

/** Whether a certificate for `names` serves `host` (a wildcard covers one label). */
export function covers(names: readonly string[], host: string): boolean {
  return names.some((name) =>
    name === host ||
    (name.startsWith("*.") && host.endsWith(name.slice(1)) &&
      !host.slice(0, host.length - name.length + 1).includes("."))
  );
}
