/**
 * A real etcd on 127.0.0.1:2379 as docs/etcd.md's "Securing etcd" sets it
 * up: TLS with client certificates (`--client-cert-auth`), auth enabled,
 * one user and role per publishing host with write access to its own keys,
 * and a read-only balancer user. Certificates are made with openssl.
 */

import { waitFor } from "./_harness.ts";
import { keysOf } from "./_etcd.ts";

/** The HTTPS client URL. */
export const SECURE_ETCD_URL = "https://127.0.0.1:2379";

/** What a client of the secure etcd is given: files under the directory. */
export interface EtcdFiles {
  readonly cacert: string;
  readonly cert: string;
  readonly key: string;
  /** The password file of each user, by user name. */
  readonly passwordFile: (user: string) => string;
}

async function sh(cwd: string, ...argv: string[]): Promise<string> {
  const [program, ...args] = argv;
  const out = await new Deno.Command(program!, {
    args,
    cwd,
    stdin: "null",
    env: { ETCDCTL_API: "3" },
  }).output();
  if (!out.success) {
    throw new Error(
      `${argv.join(" ")} failed: ${
        new TextDecoder().decode(out.stderr).trim()
      }`,
    );
  }
  return new TextDecoder().decode(out.stdout);
}

/** Makes a CA, etcd's server certificate and one client certificate in `dir`. */
async function makeCertificates(dir: string): Promise<void> {
  await Deno.writeTextFile(
    `${dir}/ext.cnf`,
    "[server]\nsubjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n" +
      "[client]\nextendedKeyUsage=clientAuth\n",
  );
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  await sh(
    dir,
    "openssl",
    "req",
    "-x509",
    ...ec,
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "2",
    "-subj",
    "/CN=docker-glue test CA",
  );
  // etcd's HTTP gateway refuses a client certificate with a CommonName once
  // auth is on (it could not use it as the user): identity is the user's.
  for (
    const [name, subject] of [["server", "/CN=127.0.0.1"], [
      "client",
      "/O=docker-glue",
    ]]
  ) {
    await sh(
      dir,
      "openssl",
      "req",
      ...ec,
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.csr`,
      "-subj",
      subject!,
    );
    await sh(
      dir,
      "openssl",
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      `${name}.pem`,
      "-days",
      "2",
      "-extfile",
      "ext.cnf",
      "-extensions",
      name!,
    );
  }
  for (const name of ["ca.key", "server.key", "client.key"]) {
    await Deno.chmod(`${dir}/${name}`, 0o600);
  }
}

/** An etcd with TLS, client certificates and auth, owned by a test. */
export class SecureEtcd {
  readonly #dir: string;
  readonly #child: Deno.ChildProcess;
  #authEnabled = false;
  /** The files a client is given. */
  readonly files: EtcdFiles;

  private constructor(dir: string, child: Deno.ChildProcess) {
    this.#dir = dir;
    this.#child = child;
    this.files = {
      cacert: `${dir}/ca.pem`,
      cert: `${dir}/client.pem`,
      key: `${dir}/client.key`,
      passwordFile: (user) => `${dir}/${user}.password`,
    };
  }

  /**
   * Starts etcd with its files in `dir` (which the binaries must be allowed
   * to read) and makes the users: `root`, `balancer` (reads `<prefix>/`)
   * and one per host id in `hosts` (writes `<prefix>/hosts/<id>/`).
   */
  static async start(
    dir: string,
    prefix: string,
    hosts: readonly string[],
  ): Promise<SecureEtcd> {
    await makeCertificates(dir);
    const child = new Deno.Command("etcd", {
      args: [
        "--name",
        "docker-glue-secure",
        "--data-dir",
        `${dir}/data`,
        "--listen-client-urls",
        SECURE_ETCD_URL,
        "--advertise-client-urls",
        SECURE_ETCD_URL,
        "--listen-peer-urls",
        "http://127.0.0.1:2380",
        "--initial-advertise-peer-urls",
        "http://127.0.0.1:2380",
        "--initial-cluster",
        "docker-glue-secure=http://127.0.0.1:2380",
        "--cert-file",
        `${dir}/server.pem`,
        "--key-file",
        `${dir}/server.key`,
        "--trusted-ca-file",
        `${dir}/ca.pem`,
        "--client-cert-auth",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const etcd = new SecureEtcd(dir, child);
    try {
      await waitFor(
        "the secure etcd to answer",
        async () => {
          try {
            await etcd.ctl("endpoint", "health");
            return true;
          } catch {
            return undefined;
          }
        },
        20000,
        200,
      );
      await etcd.#addUser("root");
      await etcd.ctl("user", "grant-role", "root", "root");
      await etcd.#addUser("balancer");
      await etcd.ctl("role", "add", "balancer");
      await etcd.ctl(
        "role",
        "grant-permission",
        "balancer",
        "--prefix=true",
        "read",
        `${prefix}/`,
      );
      await etcd.ctl("user", "grant-role", "balancer", "balancer");
      for (const host of hosts) {
        await etcd.#addUser(host);
        await etcd.ctl("role", "add", `host-${host}`);
        await etcd.ctl(
          "role",
          "grant-permission",
          `host-${host}`,
          "--prefix=true",
          "readwrite",
          `${prefix}/hosts/${host}/`,
        );
        await etcd.ctl("user", "grant-role", host, `host-${host}`);
      }
      await etcd.ctl("auth", "enable");
      etcd.#authEnabled = true;
    } catch (error) {
      await etcd.stop();
      throw error;
    }
    return etcd;
  }

  async #addUser(name: string): Promise<void> {
    const password = crypto.randomUUID();
    await Deno.writeTextFile(this.files.passwordFile(name), `${password}\n`, {
      mode: 0o600,
    });
    await this.ctl("user", "add", `${name}:${password}`);
  }

  /** Runs etcdctl over TLS, as root once auth is on. */
  async ctl(...args: string[]): Promise<string> {
    const user = this.#authEnabled
      ? [
        "--user",
        `root:${
          (await Deno.readTextFile(this.files.passwordFile("root"))).trim()
        }`,
      ]
      : [];
    return await sh(
      this.#dir,
      "etcdctl",
      "--endpoints",
      SECURE_ETCD_URL,
      "--cacert",
      this.files.cacert,
      "--cert",
      this.files.cert,
      "--key",
      this.files.key,
      "--command-timeout",
      "5s",
      ...user,
      ...args,
    );
  }

  /** Keys and values under a prefix, read as root. */
  async read(prefix: string): Promise<Record<string, string>> {
    return keysOf(await this.ctl("get", "--prefix", prefix, "-w", "json"));
  }

  /** Stops etcd; the directory is the caller's. */
  async stop(): Promise<void> {
    try {
      this.#child.kill("SIGTERM");
    } catch {
      // Already gone.
    }
    await this.#child.status;
  }
}
