/**
 * Certificate bundles are checked before HAProxy sees them: what is wrong
 * is said in words, and only good bundles are served.
 */

import {
  assertEquals,
  assertIncludes,
  assertThrows,
  assertTrue,
} from "../_fixtures/assert.ts";
import { CertificateError, covers, inspectPem } from "../../lib/tls/pem.ts";
import { createSelfSigned } from "../../lib/tls/self_signed.ts";

const now = new Date();
const one = await createSelfSigned(now, 30);
const two = await createSelfSigned(now, 30);
const certOf = (pem: string) =>
  pem.slice(0, pem.indexOf("-----BEGIN PRIVATE KEY-----"));
const keyOf = (pem: string) =>
  pem.slice(pem.indexOf("-----BEGIN PRIVATE KEY-----"));

Deno.test("pem: a good bundle gives names, validity and the fingerprint HAProxy shows", () => {
  const info = inspectPem(one, now);
  assertEquals(info.names, ["docker-balancer default certificate"]);
  assertTrue(info.notAfter.getTime() > now.getTime() + 29 * 86_400_000);
  assertTrue(/^[0-9A-F]{40}$/.test(info.fingerprint), info.fingerprint);
  // Key after certificates, no blank lines: a runtime API payload.
  assertTrue(!/\n\n/.test(info.pem));
  assertTrue(info.pem.trim().endsWith("-----END PRIVATE KEY-----"));
});

Deno.test("pem: blank lines, CRLF and a key before the certificate are taken", () => {
  const messy = `${keyOf(one)}\r\n\r\n${certOf(one).replaceAll("\n", "\r\n")}`;
  assertEquals(
    inspectPem(messy, now).fingerprint,
    inspectPem(one, now).fingerprint,
  );
});

Deno.test("pem: what cannot be served is refused with the reason", () => {
  const cases: [string, string][] = [
    ["", "no certificate"],
    [certOf(one), "no private key"],
    [`${certOf(one)}${keyOf(one)}${keyOf(two)}`, "2 private keys"],
    [`${certOf(one)}${keyOf(two)}`, "does not match"],
    [
      `${
        certOf(one)
      }-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n`,
      "encrypted",
    ],
    [
      `-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n${
        keyOf(one)
      }`,
      "cannot be read",
    ],
  ];
  for (const [text, reason] of cases) {
    assertThrows(() => inspectPem(text, now), CertificateError, reason);
  }
  const later = new Date(now.getTime() + 31 * 86_400_000);
  const error = assertThrows(() => inspectPem(one, later), CertificateError);
  assertIncludes(error.message, "expired on");
});

Deno.test("pem: a wildcard covers one label, not the bare domain or deeper names", () => {
  const names = ["*.example.com", "example.org"];
  assertTrue(covers(names, "a.example.com"));
  assertTrue(covers(names, "example.org"));
  assertTrue(!covers(names, "example.com"));
  assertTrue(!covers(names, "a.b.example.com"));
  assertTrue(!covers(names, "a.example.org"));
});
