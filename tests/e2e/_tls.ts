/**
 * TLS helpers for end-to-end tests: a throwaway CA and certificates made
 * with openssl, an HTTPS client that sets SNI and Host while connecting to
 * loopback, and the certificate a server presents for a name.
 *
 * @module
 */

import { X509Certificate } from "node:crypto";
import { parseResponse, type Response, sh } from "./_harness.ts";

/** openssl arguments for a new, unencrypted P-256 key. */
const NEW_KEY = [
  "-newkey",
  "ec",
  "-pkeyopt",
  "ec_paramgen_curve:P-256",
  "-nodes",
];

/** A certificate authority made for one test. */
export interface TestCa {
  /** The CA certificate, PEM. */
  readonly pem: string;
  /**
   * Issues a certificate for `names` (DNS names or IPv4 addresses) and
   * returns chain and key in one PEM bundle, as HAProxy reads it.
   */
  issue(names: readonly string[], days?: number): Promise<string>;
}

/** Makes a CA in `dir` (a temporary directory of the test's). */
export async function createCa(dir: string): Promise<TestCa> {
  await sh(
    "openssl",
    "req",
    "-x509",
    ...NEW_KEY,
    "-keyout",
    `${dir}/ca.key`,
    "-out",
    `${dir}/ca.crt`,
    "-days",
    "2",
    "-subj",
    "/CN=docker-glue test CA",
  );
  let serial = 0;
  return {
    pem: await Deno.readTextFile(`${dir}/ca.crt`),
    async issue(names, days = 2) {
      const id = `leaf-${++serial}`;
      await sh(
        "openssl",
        "req",
        ...NEW_KEY,
        "-keyout",
        `${dir}/${id}.key`,
        "-out",
        `${dir}/${id}.csr`,
        "-subj",
        `/CN=${names[0]}`,
        "-addext",
        `subjectAltName=${
          names.map((name) =>
            /^[0-9.]+$/.test(name) ? `IP:${name}` : `DNS:${name}`
          ).join(",")
        }`,
      );
      await sh(
        "openssl",
        "x509",
        "-req",
        "-in",
        `${dir}/${id}.csr`,
        "-CA",
        `${dir}/ca.crt`,
        "-CAkey",
        `${dir}/ca.key`,
        "-CAcreateserial",
        "-copy_extensions",
        "copy",
        "-days",
        String(days),
        "-out",
        `${dir}/${id}.crt`,
      );
      return `${await Deno.readTextFile(`${dir}/${id}.crt`)}${await Deno
        .readTextFile(`${dir}/${id}.key`)}`;
    },
  };
}

/** What an HTTPS exchange showed. */
export interface HttpsResponse extends Response {
  /** Response headers, lower-case names. */
  readonly headers: Record<string, string>;
  /** The protocol ALPN agreed on, if any. */
  readonly alpn: string | null;
}

/**
 * Sends one HTTP/1.1 request over TLS to 127.0.0.1:`port`, with `host` as
 * SNI name and Host header, trusting `caPems` only.
 */
export async function httpsGet(
  port: number,
  host: string,
  path: string,
  caPems: readonly string[],
  options: { cookie?: string; alpn?: string[] } = {},
): Promise<HttpsResponse> {
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
  const conn = await Deno.startTls(tcp, {
    hostname: host,
    caCerts: [...caPems],
    alpnProtocols: options.alpn ?? ["http/1.1"],
  });
  const timer = setTimeout(() => conn.close(), 5000);
  try {
    const { alpnProtocol } = await conn.handshake();
    const request = [
      `GET ${path} HTTP/1.1`,
      `Host: ${host}`,
      "Connection: close",
      ...(options.cookie ? [`Cookie: ${options.cookie}`] : []),
      "",
      "",
    ].join("\r\n");
    if (alpnProtocol === "h2") {
      return { status: 0, body: "", headers: {}, alpn: alpnProtocol };
    }
    await conn.write(new TextEncoder().encode(request));
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(16384);
    while (true) {
      let n: number | null;
      try {
        n = await conn.read(buf);
      } catch (error) {
        // HAProxy may close without close_notify once it has answered.
        if (chunks.length > 0) break;
        throw error;
      }
      if (n === null) break;
      chunks.push(buf.slice(0, n));
    }
    const text = new TextDecoder().decode(
      new Uint8Array(chunks.flatMap((c) => [...c])),
    );
    const head = text.slice(0, text.indexOf("\r\n\r\n"));
    const headers: Record<string, string> = {};
    for (const line of head.split("\r\n").slice(1)) {
      const colon = line.indexOf(":");
      if (colon > 0) {
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(
          colon + 1,
        ).trim();
      }
    }
    return { ...parseResponse(text), headers, alpn: alpnProtocol };
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // closed by the timer or the peer
    }
  }
}

/** The certificate 127.0.0.1:`port` presents for SNI name `host`: its names and SHA-1 fingerprint. */
export async function servedCert(
  port: number,
  host: string,
): Promise<{ subject: string; names: string; fingerprint: string }> {
  const out = await new Deno.Command("openssl", {
    args: [
      "s_client",
      "-connect",
      `127.0.0.1:${port}`,
      "-servername",
      host,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/
    .exec(
      text,
    )?.[0];
  if (pem === undefined) throw new Error(`No certificate from ${host}`);
  const cert = new X509Certificate(pem);
  return {
    subject: cert.subject,
    names: cert.subjectAltName ?? "",
    fingerprint: cert.fingerprint.replaceAll(":", "").toUpperCase(),
  };
}

/** The SHA-1 fingerprint of the first certificate of a PEM bundle, as HAProxy shows it. */
export function fingerprintOf(pem: string): string {
  const first =
    /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem)
      ?.[0] ?? "";
  return new X509Certificate(first).fingerprint.replaceAll(":", "")
    .toUpperCase();
}
