/**
 * A real etcd for tests, on 127.0.0.1:2379 (the endpoint the binaries'
 * permissions allow) with a temporary data directory. It can be stopped,
 * frozen and started again on the same data. Tests read and write it with
 * etcd's own `etcdctl`, not with our client, so they check our keys against
 * an independent reader.
 *
 * @module
 */

import { waitFor } from "./_harness.ts";
import { docker, IMAGE, TEST_LABEL, testTempDir } from "./_harness.ts";
import type { Cleanup } from "../_fixtures/cleanup.ts";

/** Client URL of the test etcd. */
export const ETCD_URL = "http://127.0.0.1:2379";

/** An etcd server process the test owns. */
export class TestEtcd {
  readonly #dataDir: string;
  #child: Deno.ChildProcess | null = null;

  private constructor(dataDir: string) {
    this.#dataDir = dataDir;
  }

  /** Starts etcd on a fresh data directory. */
  static async start(): Promise<TestEtcd> {
    const dataDir = await Deno.makeTempDir({ prefix: "docker-glue-etcd-" });
    const etcd = new TestEtcd(dataDir);
    try {
      await etcd.resume();
    } catch (error) {
      await Deno.remove(dataDir, { recursive: true });
      throw error;
    }
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
    try {
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
    } catch (error) {
      await this.pause("SIGKILL");
      throw error;
    }
  }

  /** Stops etcd (SIGTERM, or SIGKILL for a crash) and waits for it. */
  async pause(signal: "SIGTERM" | "SIGKILL" = "SIGTERM"): Promise<void> {
    const child = this.#child;
    if (child === null) return;
    child.kill(signal);
    await child.status;
    this.#child = null;
  }

  /** Freezes (SIGSTOP) or thaws (SIGCONT) etcd: connections stay open, nothing answers. */
  freeze(frozen: boolean): void {
    this.#child?.kill(frozen ? "SIGSTOP" : "SIGCONT");
  }

  /** Keys and values under a prefix, read with etcdctl. */
  async read(prefix: string): Promise<Record<string, string>> {
    return keysOf(await etcdctl("get", "--prefix", prefix, "-w", "json"));
  }

  /** Stores a key with etcdctl. */
  async put(key: string, value: string): Promise<void> {
    await etcdctl("put", key, value);
  }

  /** Removes a key with etcdctl. */
  async delete(key: string): Promise<void> {
    await etcdctl("del", key);
  }

  /** Stops etcd and removes its data; once stopped, does nothing. */
  async stop(): Promise<void> {
    this.freeze(false);
    await this.pause();
    await Deno.remove(this.#dataDir, { recursive: true }).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
  }
}

/** The keys and values of `etcdctl get -w json` output. */
export function keysOf(out: string): Record<string, string> {
  const body = JSON.parse(out) as {
    kvs?: { key: string; value?: string }[];
  };
  const decode = (b64: string) =>
    new TextDecoder().decode(
      Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)),
    );
  return Object.fromEntries(
    (body.kvs ?? []).map((kv) => [decode(kv.key), decode(kv.value ?? "")]),
  );
}

/** Runs etcdctl against the test etcd; resolves to its output. */
export async function etcdctl(...args: string[]): Promise<string> {
  const out = await new Deno.Command("etcdctl", {
    args: ["--endpoints", ETCD_URL, "--command-timeout", "5s", ...args],
    env: { ETCDCTL_API: "3" },
    stdin: "null",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(
      `etcdctl ${args.join(" ")} failed: ${
        new TextDecoder().decode(out.stderr).trim()
      }`,
    );
  }
  return text;
}

export const opts = { sanitizeOps: false, sanitizeResources: false };
/** Lease TTL of the single-publisher test: short, so expiry is quick to see. */
export const TTL = 4;
/**
 * Lease TTL of the two-host test, whose routes must outlive etcd restarts:
 * etcd 3.4 can take up to 7 s to shut down, answering nothing while leases
 * run down, and a lease is refreshed every third of its TTL, so 12 s leaves
 * at least 8 s at the moment etcd stops answering.
 */
export const HOSTS_TTL = 12;

/** A handler directory with the publisher as `name`.ini; `cleanup` removes it. */
export async function handlerDir(
  cleanup: Cleanup,
  name: string,
  params: Record<string, string>,
): Promise<{ path: string }> {
  const path = await testTempDir(cleanup, "docker-glue-pub-");
  const lines = Object.entries(params).map(([k, v]) => `${k}=${v}`).join("\n");
  await Deno.writeTextFile(
    `${path}/${name}.ini`,
    `[handler]\nclass=DockerGlue.handlers.publishers.distconfig.Publisher\nevents=none,start,die,stop,destroy,pause,unpause,health_status,rename\n\n[params]\n${lines}\n`,
  );
  return { path };
}

export function run(
  name: string,
  labels: Record<string, string>,
  publish: string,
): Promise<string> {
  const args = [
    "run",
    "-d",
    "--name",
    name,
    "-l",
    TEST_LABEL,
    "-e",
    `NAME=${name}`,
    "-p",
    publish,
  ];
  for (const [k, v] of Object.entries(labels)) args.push("-l", `${k}=${v}`);
  return docker(...args, IMAGE);
}
