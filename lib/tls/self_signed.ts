/**
 * The certificate HAProxy serves to a client whose SNI name matches no
 * other, when the operator gave none: self-signed, made once and kept.
 *
 * @module
 */

import * as x509 from "@peculiar/x509";
import { Buffer } from "node:buffer";

import { SELF_SIGNED_NAME } from "./names.ts";

const ALGORITHM = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };

function pemBlock(type: string, der: ArrayBuffer): string {
  const body = Buffer.from(der).toString("base64").replace(/.{1,64}/g, "$&\n");
  return `-----BEGIN ${type}-----\n${body}-----END ${type}-----\n`;
}

/**
 * Makes a self-signed certificate and its key (P-256), valid from a day
 * before `now` for `days` days, as one PEM bundle.
 */
export async function createSelfSigned(
  now: Date,
  days = 3650,
): Promise<string> {
  const keys = await crypto.subtle.generateKey(ALGORITHM, true, [
    "sign",
    "verify",
  ]);
  const serial = crypto.getRandomValues(new Uint8Array(16));
  serial[0] = (serial[0] ?? 0) & 0x7f;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: [...serial].map((b) => b.toString(16).padStart(2, "0"))
      .join(""),
    name: `CN=${SELF_SIGNED_NAME}`,
    notBefore: new Date(now.getTime() - 86_400_000),
    notAfter: new Date(now.getTime() + days * 86_400_000),
    signingAlgorithm: ALGORITHM,
    keys,
    extensions: [new x509.BasicConstraintsExtension(false, undefined, true)],
  });
  const key = await crypto.subtle.exportKey("pkcs8", keys.privateKey);
  return `${cert.toString("pem").trim()}\n${pemBlock("PRIVATE KEY", key)}`;
}
