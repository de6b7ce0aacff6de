/** The certificate directory: what is served from it, and what a bad file costs. */

import { assertEquals, assertTrue } from "../_fixtures/assert.ts";
import { CertDirectory } from "../../lib/tls/cert_dir.ts";
import { inspectPem } from "../../lib/tls/pem.ts";
import { createSelfSigned } from "../../lib/tls/self_signed.ts";

Deno.test("cert dir: good files are served, the default apart; a file that turns bad keeps its last good version; a removed one goes", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const now = new Date();
    const a = await createSelfSigned(now, 30);
    await Deno.writeTextFile(`${dir}/a.pem`, a);
    await Deno.writeTextFile(`${dir}/default.pem`, await createSelfSigned(now));
    await Deno.writeTextFile(`${dir}/notes.txt`, "not a certificate");
    await Deno.writeTextFile(`${dir}/.hidden.pem`, "ignored");
    await Deno.writeTextFile(
      `${dir}/broken.pem`,
      "-----BEGIN CERTIFICATE-----",
    );
    const certs = new CertDirectory(dir, () => {});
    assertEquals(await certs.scan(), true);
    assertEquals(certs.certs.map((c) => c.file), ["a.pem"]);
    assertTrue(certs.defaultCert !== undefined);

    // Half copied: the previous version keeps serving, nothing changes.
    await Deno.writeTextFile(`${dir}/a.pem`, a.slice(0, 200));
    assertEquals(await certs.scan(), false);
    assertEquals(
      certs.certs[0]?.info.fingerprint,
      inspectPem(a, now).fingerprint,
    );

    const renewed = await createSelfSigned(now, 30);
    await Deno.writeTextFile(`${dir}/a.pem`, renewed);
    assertEquals(await certs.scan(), true);
    assertEquals(
      certs.certs[0]?.info.fingerprint,
      inspectPem(renewed, now).fingerprint,
    );

    await Deno.remove(`${dir}/a.pem`);
    assertEquals(await certs.scan(), true);
    assertEquals(certs.certs, []);
    await certs.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cert dir: a certificate that expires is dropped at the next read", async () => {
  const dir = await Deno.makeTempDir();
  try {
    let now = new Date();
    await Deno.writeTextFile(`${dir}/a.pem`, await createSelfSigned(now, 2));
    const certs = new CertDirectory(dir, () => {}, () => now);
    await certs.scan();
    assertEquals(certs.certs.length, 1);
    now = new Date(now.getTime() + 3 * 86_400_000);
    assertEquals(await certs.scan(), true);
    assertEquals(certs.certs, []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
