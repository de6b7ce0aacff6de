/**
 * How docker-glue proves itself to etcd: TLS with a CA and a client
 * certificate, and a user whose password is read from a file (never from
 * the command line, where `ps` shows it). The names follow etcdctl's
 * `--cacert`, `--cert`, `--key` and `--user`.
 *
 * @module
 */

import { errorMessage } from "../util/error_message.ts";

/** Where the credentials are; every field optional. */
export interface EtcdAccess {
  /** CA bundle the endpoints' certificates are checked against. */
  readonly caFile?: string | undefined;
  /** Client certificate (PEM), for etcd's `--client-cert-auth`. */
  readonly certFile?: string | undefined;
  /** Its private key (PEM). */
  readonly keyFile?: string | undefined;
  /** etcd user name, for etcd's `auth enable`. */
  readonly user?: string | undefined;
  /** File whose first line is the user's password. */
  readonly passwordFile?: string | undefined;
}

/** No TLS settings of our own, no user. */
export const NO_ACCESS: EtcdAccess = {};

/** The credentials read, ready for a client. */
export interface EtcdCredentials {
  /** An HTTP client with the CA and client certificate, or undefined for the defaults. */
  readonly http?: Deno.HttpClient;
  /** User and password, or undefined without authentication. */
  readonly login?: { readonly name: string; readonly password: string };
}

/**
 * Checks that the settings go together: a certificate with its key, a user
 * with a password file. `where` prefixes each message (a flag's or INI
 * file's name).
 *
 * @throws {TypeError} naming what is missing.
 */
export function checkAccess(access: EtcdAccess, where: string): EtcdAccess {
  const given = (value: string | undefined) =>
    value !== undefined && value !== "";
  if (given(access.certFile) !== given(access.keyFile)) {
    throw new TypeError(
      `${where}: a client certificate needs its key, and a key its certificate`,
    );
  }
  if (given(access.user) !== given(access.passwordFile)) {
    throw new TypeError(
      `${where}: an etcd user needs a password file, and a password file a user`,
    );
  }
  if (given(access.user) && !/^[\x21-\x7e]{1,255}$/.test(access.user ?? "")) {
    throw new TypeError(`${where}: invalid etcd user name`);
  }
  return access;
}

/**
 * Reads the files the settings name. A password file others can read is
 * refused: the password is the host's right to write its keys.
 *
 * @throws {Error} naming the file that cannot be read or is open to others.
 */
export async function readAccess(
  access: EtcdAccess,
): Promise<EtcdCredentials> {
  const read = async (path: string | undefined) =>
    path === undefined || path === "" ? undefined : await readNamed(path);
  const [ca, cert, key] = await Promise.all([
    read(access.caFile),
    read(access.certFile),
    read(access.keyFile),
  ]);
  let login: EtcdCredentials["login"];
  if (access.user !== undefined && access.user !== "") {
    const file = access.passwordFile ?? "";
    const mode = (await Deno.stat(file)).mode ?? 0;
    if (mode & 0o004) {
      throw new Error(
        `etcd password file ${file} is readable by every user (mode ${
          (mode & 0o777).toString(8)
        }): chmod 600 it`,
      );
    }
    const password = (await readNamed(file)).split("\n")[0] ?? "";
    if (password === "") throw new Error(`etcd password file ${file} is empty`);
    login = { name: access.user, password };
  }
  const tls = ca !== undefined || cert !== undefined;
  return {
    ...(tls
      ? {
        http: Deno.createHttpClient({
          ...(ca === undefined ? {} : { caCerts: [ca] }),
          ...(cert === undefined || key === undefined ? {} : { cert, key }),
        }),
      }
      : {}),
    ...(login === undefined ? {} : { login }),
  };
}

async function readNamed(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    throw new Error(
      `Cannot read ${path}: ${errorMessage(error).split(": ")[0]}`,
      { cause: error },
    );
  }
}
