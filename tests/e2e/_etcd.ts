/**
 * A real etcd for tests, on 127.0.0.1:2379 (the endpoint the binaries'
 * permissions allow) with a temporary data directory. It can be stopped and
 * started again on the same data.
 *
 * @module
 */

import { Etcd3 } from "etcd3";
import { waitFor } from "./_harness.ts";

/** Client URL of the test etcd. */
export const ETCD_URL = "http://127.0.0.1:2379";

/** An etcd server process the test owns. */
export class TestEtcd {
  readonly #dataDir: string;
  #child: Deno.ChildProcess | null = null;
  readonly client: Etcd3;

  private constructor(dataDir: string) {
    this.#dataDir = dataDir;
    this.client = new Etcd3({ hosts: ETCD_URL, dialTimeout: 2000 });
  }

  /** Starts etcd on a fresh data directory. */
  static async start(): Promise<TestEtcd> {
    const etcd = new TestEtcd(
      await Deno.makeTempDir({ prefix: "docker-glue-etcd-" }),
    );
    await etcd.resume();
    return etcd;
  }

  /** Starts etcd again on the same data. */
  async resume(): Promise<void> {
    try {
      const probe = await Deno.connect({ hostname: "127.0.0.1", port: 2379 });
      probe.close();
      throw new Error(
        "127.0.0.1:2379 is already in use: stop the etcd running there to run these tests",
      );
    } catch (error) {
      if (!(error instanceof Deno.errors.ConnectionRefused)) throw error;
    }
    this.#child = new Deno.Command("etcd", {
      args: [
        "--name",
        "docker-glue-test",
        "--data-dir",
        this.#dataDir,
        "--listen-client-urls",
        ETCD_URL,
        "--advertise-client-urls",
        ETCD_URL,
        "--listen-peer-urls",
        "http://127.0.0.1:2380",
        "--initial-advertise-peer-urls",
        "http://127.0.0.1:2380",
        "--initial-cluster",
        "docker-glue-test=http://127.0.0.1:2380",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    await waitFor(
      "etcd to answer",
      async () => {
        const res = await fetch(`${ETCD_URL}/health`);
        const body = await res.json();
        return body.health === "true" ? true : undefined;
      },
      20000,
      100,
    );
  }

  /** Stops etcd (SIGTERM) and waits for it. */
  async pause(): Promise<void> {
    const child = this.#child;
    if (child === null) return;
    child.kill("SIGTERM");
    await child.status;
    this.#child = null;
  }

  /** Keys and values under a prefix. */
  async read(prefix: string): Promise<Record<string, string>> {
    return await this.client.getAll().prefix(prefix).strings();
  }

  /** Stops etcd and removes its data. */
  async stop(): Promise<void> {
    this.client.close();
    await this.pause();
    await Deno.remove(this.#dataDir, { recursive: true });
  }
}
