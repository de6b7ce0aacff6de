/**
 * A second Docker engine beside the first, as another host's would be: its
 * own data root, exec root, pid file, bridge and subnet, listening on
 * loopback TCP with TLS (a CA, server and client certificates made by
 * openssl), with live restore so that its containers outlive a stop of
 * the engine, as on a host whose engine restarts.
 *
 * @module
 */

import { DOCKER_TCP_HOSTS } from "../../lib/permissions.ts";
import { IMAGE, TEST_LABEL } from "./_harness.ts";
import { sh } from "./_harness/base.ts";

/** Where the second engine listens: a port the compiled binaries may reach. */
export const SECOND_ENGINE = `tcp://${DOCKER_TCP_HOSTS[0]}`;

const BRIDGE = "dg-test-br2";
const SUBNET = "10.213.0.1/24";
const EXEC_ROOT = "/run/docker-glue-test-2";
const PIDFILE = `${EXEC_ROOT}.pid`;
const DATA_ROOT = "/var/lib/docker-glue-test-2";

async function openssl(dir: string, ...args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", {
    args,
    cwd: dir,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(
      `openssl ${args[0]}: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
}

/** The second engine: start, stop, start again, and a docker CLI for it. */
export class SecondEngine {
  /** Directory with ca.pem, cert.pem and key.pem (`certpath=`). */
  readonly certs: string;
  readonly #dir: string;
  #child: Deno.ChildProcess | null = null;

  private constructor(dir: string) {
    this.#dir = dir;
    this.certs = `${dir}/client`;
  }

  /** `--docker-url` for this engine, named `name`. */
  url(name: string): string {
    return `${SECOND_ENGINE}?certpath=${this.certs}&name=${name}`;
  }

  /**
   * Makes the certificates in `dir` (which the balancer must be able to
   * read; the caller removes it), the bridge, and starts the engine with
   * the test image loaded.
   */
  static async create(dir: string): Promise<SecondEngine> {
    const engine = new SecondEngine(dir);
    await Deno.mkdir(engine.certs, { recursive: true });
    const c = engine.certs;
    await openssl(
      dir,
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      "ca-key.pem",
      "-out",
      `${c}/ca.pem`,
      "-days",
      "2",
      "-subj",
      "/CN=docker-glue-test-ca",
    );
    const sign = async (name: string, cn: string, ext: string) => {
      await openssl(
        dir,
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        `${name}-key.pem`,
        "-out",
        `${name}.csr`,
        "-subj",
        `/CN=${cn}`,
      );
      await Deno.writeTextFile(`${dir}/${name}.ext`, ext);
      await openssl(
        dir,
        "x509",
        "-req",
        "-in",
        `${name}.csr`,
        "-CA",
        `${c}/ca.pem`,
        "-CAkey",
        "ca-key.pem",
        "-CAcreateserial",
        "-out",
        `${name}-cert.pem`,
        "-days",
        "2",
        "-extfile",
        `${name}.ext`,
      );
    };
    await sign(
      "server",
      "127.0.0.1",
      "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    );
    await sign("client", "docker-glue", "extendedKeyUsage=clientAuth\n");
    await Deno.rename(`${dir}/client-cert.pem`, `${c}/cert.pem`);
    await Deno.rename(`${dir}/client-key.pem`, `${c}/key.pem`);
    await sh("ip", "link", "add", BRIDGE, "type", "bridge").catch(() => {});
    await sh("ip", "addr", "replace", SUBNET, "dev", BRIDGE);
    await sh("ip", "link", "set", BRIDGE, "up");
    await engine.start();
    const tar = `${dir}/image.tar`;
    await sh("docker", "save", "-o", tar, IMAGE);
    await engine.docker("load", "-i", tar);
    await Deno.remove(tar);
    return engine;
  }

  /** Starts the engine and waits until it answers. */
  async start(): Promise<void> {
    const d = this.#dir;
    const child = new Deno.Command("setsid", {
      args: [
        "dockerd",
        "--data-root",
        DATA_ROOT,
        "--exec-root",
        EXEC_ROOT,
        "--pidfile",
        PIDFILE,
        "-H",
        SECOND_ENGINE,
        "--tlsverify",
        "--tlscacert",
        `${this.certs}/ca.pem`,
        "--tlscert",
        `${d}/server-cert.pem`,
        "--tlskey",
        `${d}/server-key.pem`,
        "--bridge",
        BRIDGE,
        // The first engine owns the host's firewall rules; published
        // ports work through docker-proxy.
        "--iptables=false",
        "--ip-masq=false",
        "--live-restore",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    child.unref();
    this.#child = child;
    for (let i = 0; i < 100; i++) {
      if (await this.docker("version").then(() => true, () => false)) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error("the second Docker engine did not answer within 20 s");
  }

  /** Stops the engine (its containers go on running: live restore). */
  async stop(): Promise<void> {
    const child = this.#child;
    if (child === null) return;
    this.#child = null;
    try {
      child.kill("SIGTERM");
    } catch {
      return; // already gone
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stopped = await Promise.race([
      child.status.then(() => true),
      new Promise<false>((r) => timer = setTimeout(() => r(false), 30_000)),
    ]);
    clearTimeout(timer);
    if (!stopped) {
      child.kill("SIGKILL");
      throw new Error("the second Docker engine did not stop within 30 s");
    }
  }

  /** The docker CLI against this engine. */
  docker(...args: string[]): Promise<string> {
    return sh(
      "docker",
      "-H",
      SECOND_ENGINE,
      "--tlsverify",
      "--tlscacert",
      `${this.certs}/ca.pem`,
      "--tlscert",
      `${this.certs}/cert.pem`,
      "--tlskey",
      `${this.certs}/key.pem`,
      ...args,
    );
  }

  /** Runs a test container publishing port 80 on loopback; returns its id. */
  run(name: string, labels: Record<string, string>): Promise<string> {
    return this.docker(
      "run",
      "-d",
      "--name",
      name,
      "--label",
      TEST_LABEL,
      ...Object.entries(labels).flatMap(([k, v]) => ["--label", `${k}=${v}`]),
      "-e",
      `NAME=${name}`,
      "-p",
      "127.0.0.1::80",
      IMAGE,
    );
  }

  /** Removes its containers, stops it, and removes its data and bridge. */
  async remove(): Promise<void> {
    if (this.#child === null) await this.start().catch(() => {});
    const ids = (await this.docker("ps", "-aq").catch(() => "")).split("\n")
      .filter(Boolean);
    if (ids.length > 0) await this.docker("rm", "-f", ...ids).catch(() => {});
    await this.stop();
    await sh("ip", "link", "del", BRIDGE).catch(() => {});
    await Deno.remove(DATA_ROOT, { recursive: true }).catch(() => {});
    await Deno.remove(EXEC_ROOT, { recursive: true }).catch(() => {});
  }
}
