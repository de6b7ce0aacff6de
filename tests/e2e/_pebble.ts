/**
 * A real ACME server on loopback for the tests: Debian's Pebble, with
 * pebble-challtestsrv as its DNS server answering every name with
 * 127.0.0.1, and HTTP-01 validation sent to our HTTP frontend's port.
 *
 * @module
 */

import {
  clearLeftoverContainers,
  ensureImage,
  freePort,
  testHaproxyDir,
  testNetwork,
  testTempDir,
  waitFor,
} from "./_harness.ts";
import { createCa } from "./_tls.ts";
import type { Cleanup } from "../_fixtures/cleanup.ts";
import type { HAProxyDir } from "./_harness/haproxy.ts";

/** Pebble's ACME port: the one docker-balancer's permissions allow (lib/permissions.ts). */
export const PEBBLE_PORT = 14000;

/** A running Pebble. */
export interface Pebble {
  /** The ACME directory URL. */
  readonly directory: string;
  /** PEM file of the CA that signed Pebble's own TLS certificate (for --acme-ca-file). */
  readonly caFile: string;
  /**
   * docker-balancer's ACME flags for this Pebble, with a short back-off.
   * The CA file is copied into `dir` (a test's HAProxy directory), where the
   * binary's permissions let it read.
   */
  balancerArgs(dir: string): Promise<string[]>;
  /** The root Pebble issues under, PEM (what a client trusts). */
  root(): Promise<string>;
  /** pebble-challtestsrv's management API (`/set-txt`, `/clear-txt`), for a DNS-01 hook. */
  readonly challtestsrv: string;
  /** Makes Pebble's DNS answer `host` with `address` (a loopback address). */
  resolve(host: string, address: string): Promise<void>;
  /** Stops Pebble and its DNS server; once stopped, does nothing. */
  stop(): Promise<void>;
}

/**
 * Starts Pebble with its files in `dir`, validating HTTP-01 on
 * 127.0.0.1:`httpPort` and issuing certificates valid for `validitySeconds`.
 */
export async function startPebble(
  dir: string,
  httpPort: number,
  validitySeconds: number,
): Promise<Pebble> {
  // Pebble's own TLS certificate, from a CA of the test's (a client
  // refuses a self-signed certificate as a server's).
  const ca = await createCa(dir);
  const bundle = await ca.issue(["localhost", "127.0.0.1"]);
  const split = bundle.indexOf("-----BEGIN PRIVATE KEY-----");
  await Deno.writeTextFile(`${dir}/pebble.crt`, bundle.slice(0, split));
  await Deno.writeTextFile(`${dir}/pebble.key`, bundle.slice(split));
  await Deno.writeTextFile(`${dir}/pebble-ca.crt`, ca.pem);
  const management = freePort();
  const dns = freePort();
  const dnsManagement = freePort();
  await Deno.writeTextFile(
    `${dir}/pebble.json`,
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${PEBBLE_PORT}`,
        managementListenAddress: `127.0.0.1:${management}`,
        certificate: `${dir}/pebble.crt`,
        privateKey: `${dir}/pebble.key`,
        httpPort,
        tlsPort: freePort(),
        ocspResponderURL: "",
        externalAccountBindingRequired: false,
        certificateValidityPeriod: validitySeconds,
      },
    }),
  );
  const quiet = { stdin: "null", stdout: "null", stderr: "null" } as const;
  const challtestsrv = new Deno.Command("pebble-challtestsrv", {
    args: [
      "-defaultIPv4",
      "127.0.0.1",
      "-defaultIPv6",
      "",
      "-http01",
      "",
      "-https01",
      "",
      "-tlsalpn01",
      "",
      "-dns01",
      `127.0.0.1:${dns}`,
      "-management",
      `127.0.0.1:${dnsManagement}`,
    ],
    ...quiet,
  }).spawn();
  const pebble = new Deno.Command("pebble", {
    args: ["-config", `${dir}/pebble.json`, "-dnsserver", `127.0.0.1:${dns}`],
    env: {
      PEBBLE_VA_NOSLEEP: "1",
      PEBBLE_WFE_NONCEREJECT: "0",
      PEBBLE_AUTHZREUSE: "0",
    },
    ...quiet,
  }).spawn();
  const stop = async () => {
    for (const child of [pebble, challtestsrv]) {
      try {
        child.kill("SIGTERM");
      } catch {
        // gone already
      }
      await child.status;
    }
  };
  const caFile = `${dir}/pebble-ca.crt`;
  const client = Deno.createHttpClient({
    caCerts: [await Deno.readTextFile(caFile)],
  });
  let closed = false;
  const directory = `https://127.0.0.1:${PEBBLE_PORT}/dir`;
  try {
    await waitFor(
      "Pebble",
      async () => {
        const response = await fetch(directory, { client });
        await response.body?.cancel();
        return response.ok ? true : undefined;
      },
      10000,
      100,
    );
  } catch (error) {
    await stop();
    client.close();
    throw error;
  }
  return {
    directory,
    caFile,
    challtestsrv: `http://127.0.0.1:${dnsManagement}`,
    async root() {
      const response = await fetch(
        `https://127.0.0.1:${management}/roots/0`,
        { client },
      );
      return await response.text();
    },
    async balancerArgs(target) {
      await Deno.copyFile(caFile, `${target}/pebble-ca.pem`);
      return [
        "--acme-directory",
        directory,
        "--acme-email",
        "ops@example.com",
        "--acme-ca-file",
        `${target}/pebble-ca.pem`,
        "--acme-backoff",
        "1s:4s",
      ];
    },
    async resolve(host, address) {
      const response = await fetch(`http://127.0.0.1:${dnsManagement}/add-a`, {
        method: "POST",
        body: JSON.stringify({ host: `${host}.`, addresses: [address] }),
      });
      await response.body?.cancel();
      if (!response.ok) throw new Error(`add-a ${host}: ${response.status}`);
    },
    async stop() {
      await stop();
      if (!closed) client.close();
      closed = true;
    },
  };
}

/** What an ACME test starts from. */
export interface PebbleSetup {
  readonly net: { readonly name: string };
  readonly dir: HAProxyDir;
  /** The HTTP frontend's port, where Pebble validates HTTP-01. */
  readonly http: number;
  readonly https: number;
  /** Pebble's own files. */
  readonly work: string;
  readonly pebble: Pebble;
  /** The root Pebble issues under, PEM. */
  readonly root: string;
}

/**
 * A test network, HAProxy directory, HTTP and HTTPS ports and a Pebble
 * issuing certificates valid for `validitySeconds`; `cleanup` removes them.
 */
export async function pebbleSetup(
  cleanup: Cleanup,
  network: string,
  validitySeconds: number,
): Promise<PebbleSetup> {
  await ensureImage();
  await clearLeftoverContainers();
  const net = await testNetwork(cleanup, network);
  const dir = await testHaproxyDir(cleanup);
  const http = freePort();
  const https = freePort();
  const work = await testTempDir(cleanup, "docker-glue-pebble-");
  const pebble = cleanup.add(
    "Pebble",
    await startPebble(work, http, validitySeconds),
    (p) => p.stop(),
  );
  return { net, dir, http, https, work, pebble, root: await pebble.root() };
}
