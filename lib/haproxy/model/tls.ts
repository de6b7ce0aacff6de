/**
 * The HTTPS frontend's certificates as HAProxy reads them: a crt-list file
 * and one file per certificate in a directory of ours beside the
 * configuration. Each file's name carries its fingerprint, so a file never
 * changes once written: a renewed certificate is a new file, added over
 * the runtime API before the old one goes, and the directory always holds
 * what HAProxy runs.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { CertDirectory } from "../../tls/cert_dir.ts";
import { type CertInfo, inspectPem } from "../../tls/pem.ts";
import { SELF_SIGNED_NAME } from "../../tls/names.ts";
import { writeAtomically } from "../../util/files.ts";
import type { CertFile } from "../plan/plan_types.ts";

const log = getLogger(["docker-glue", "tls"]);

/** Where the HTTPS frontend's certificates come from and go. */
export interface TlsFiles {
  /** The crt-list the configuration names. */
  readonly crtList: string;
  /** Our directory of certificate files HAProxy reads. */
  readonly liveDir: string;
  /** The operator's certificate directory. */
  readonly source: CertDirectory;
  /** Served when no certificate matches and the operator gave no default. */
  readonly fallback: CertInfo;
}

/** The certificates HAProxy should serve. */
export interface ServedCerts {
  /** The `crt` of the bind line. */
  readonly defaultCert: CertFile;
  /** The crt-list's certificates, by path. */
  readonly certs: readonly CertFile[];
}

/** The file a certificate is served from: its source name and fingerprint. */
export function livePath(
  liveDir: string,
  file: string,
  info: CertInfo,
): string {
  const stem = file.replace(/\.pem$/, "").replace(/[^A-Za-z0-9._-]/g, "_");
  return `${liveDir}/${stem}.${
    info.fingerprint.slice(0, 16).toLowerCase()
  }.pem`;
}

/** What HAProxy should serve from the certificate directory now. */
export function servedCerts(tls: TlsFiles): ServedCerts {
  const operator = tls.source.defaultCert;
  const defaultCert = operator === undefined
    ? {
      path: livePath(tls.liveDir, "self-signed", tls.fallback),
      pem: tls.fallback.pem,
    }
    : {
      path: livePath(tls.liveDir, operator.file, operator.info),
      pem: operator.info.pem,
    };
  const certs = tls.source.certs.map((cert) => ({
    path: livePath(tls.liveDir, cert.file, cert.info),
    pem: cert.info.pem,
  })).sort((a, b) => a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
  return { defaultCert, certs };
}

/** The crt-list's text: one certificate file per line; HAProxy picks among them by the names they carry. */
export function crtListText(certs: readonly CertFile[]): string {
  return certs.map((cert) => `${cert.path}\n`).join("");
}

/**
 * Writes the certificate files that are not there yet, readable by root
 * alone. A file's name carries its fingerprint, so one that exists holds
 * the right certificate.
 */
export async function writeLiveFiles(
  liveDir: string,
  certs: readonly CertFile[],
): Promise<void> {
  await Deno.mkdir(liveDir, { recursive: true, mode: 0o700 });
  for (const cert of certs) {
    try {
      await Deno.lstat(cert.path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      await writeAtomically(cert.path, cert.pem, 0o600);
    }
  }
}

/** Removes certificate files HAProxy no longer serves. */
export async function pruneLiveFiles(
  liveDir: string,
  keep: ReadonlySet<string>,
): Promise<void> {
  try {
    for await (const entry of Deno.readDir(liveDir)) {
      const path = `${liveDir}/${entry.name}`;
      if (entry.isFile && entry.name.endsWith(".pem") && !keep.has(path)) {
        await Deno.remove(path).catch(() => {});
      }
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

/**
 * The self-signed default certificate: the one made at an earlier start if
 * it is still valid for a month, else a new one. With `announce`, it is
 * said in the log that clients no name matches get it.
 */
export async function selfSignedDefault(
  liveDir: string,
  now: Date,
  announce: boolean,
): Promise<CertInfo> {
  const month = new Date(now.getTime() + 30 * 86_400_000);
  try {
    for await (const entry of Deno.readDir(liveDir)) {
      if (!entry.name.startsWith("self-signed.")) continue;
      try {
        const info = inspectPem(
          await Deno.readTextFile(`${liveDir}/${entry.name}`),
          month,
        );
        if (announce) say(info);
        return info;
      } catch {
        // expiring or damaged: make a new one
      }
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  // Loaded only when needed: the X.509 library costs memory.
  const { createSelfSigned } = await import("../../tls/self_signed.ts");
  const info = inspectPem(await createSelfSigned(now), now);
  if (announce) say(info);
  return info;
}

function say(info: CertInfo): void {
  log.info(
    "HTTPS clients whose name matches no certificate get a self-signed one ({name}, valid until {until}); put default.pem in the certificate directory to serve your own",
    { name: SELF_SIGNED_NAME, until: info.notAfter.toISOString() },
  );
}
