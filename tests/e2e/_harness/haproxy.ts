/**
 * HAProxy for tests: free ports, the sockets the binary may use, the master
 * CLI's reload count, a directory of the test's own, and HAProxy started
 * in master-worker mode.
 *
 * @module
 */

import { HAPROXY_RUN_DIR, HAPROXY_SOCKETS } from "../../../lib/permissions.ts";
import {
  parseShowProc,
  type ProcList,
} from "../../../lib/haproxy/io/process.ts";
import { sendCommand } from "../../../lib/haproxy/io/runtime.ts";
import { waitFor } from "./base.ts";

const givenPorts = new Set<number>();

// Below Linux's ephemeral range (32768-60999): a port the kernel hands to
// `listen(0)` may next be the local port of any outgoing connection (a
// client, dockerd, etcd), and HAProxy then cannot bind it.
const PORT_RANGE = { first: 20000, last: 32767 };

/**
 * A free TCP port on 127.0.0.1 below the ephemeral range, never one handed
 * out before in this run: the listener that finds it free is closed before
 * the port is used.
 */
export function freePort(): number {
  while (true) {
    const port = PORT_RANGE.first +
      Math.floor(Math.random() * (PORT_RANGE.last - PORT_RANGE.first + 1));
    if (givenPorts.has(port)) continue;
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
    } catch (error) {
      if (error instanceof Deno.errors.AddrInUse) continue;
      throw error;
    }
    givenPorts.add(port);
    return port;
  }
}

/** The admin socket docker-balancer may use, and the master CLI beside it. */
export const ADMIN_SOCKET = HAPROXY_SOCKETS[0]!;
/** The master CLI socket of a managed HAProxy. */
export const MASTER_SOCKET = HAPROXY_SOCKETS[1]!;

/** What a managed HAProxy's master says of itself, or null when nothing answers. */
export async function masterProc(): Promise<ProcList | null> {
  try {
    return parseShowProc(await sendCommand(MASTER_SOCKET, "show proc", 1000));
  } catch {
    return null;
  }
}

/**
 * How many times HAProxy's master has reloaded, counted by the master itself
 * (a managed HAProxy, or one from {@link startHaproxy}). Throws when the
 * master does not answer within 5 s, so a silent master fails the test
 * rather than comparing nothing with nothing. A reload signal is handled
 * asynchronously by the master, and it does not answer while it re-executes:
 * the count is read until two readings 300 ms apart agree, so a reload
 * signalled just before the call is counted.
 */
export async function masterReloads(): Promise<number> {
  const read = () =>
    waitFor(
      "HAProxy's master CLI to answer",
      async () => (await masterProc())?.reloads,
      5000,
      20,
    );
  let last = await read();
  while (true) {
    await new Promise((r) => setTimeout(r, 300));
    const now = await read();
    if (now === last) return now;
    last = now;
  }
}

/** A test's HAProxy directory and the flags that point docker-balancer at it. */
export interface HAProxyDir {
  /** The directory, under /etc/haproxy. */
  readonly path: string;
  /** The configuration file in it. */
  readonly config: string;
  /**
   * Flags for a balancer writing `config`, with its HTTP frontend on
   * 127.0.0.1:`httpPort`, the admin socket in the directory and the stats
   * page at `statsBind` ("" for none).
   */
  listenArgs(httpPort: number, statsBind?: string): string[];
  /** The certificate directory for an HTTPS frontend: `certs` in the directory. */
  readonly certs: string;
  /** Flags for an HTTPS frontend on 127.0.0.1:`httpsPort` serving {@link certs}. */
  httpsArgs(httpsPort: number): string[];
  /** Removes the directory. */
  remove(): Promise<void>;
}

/** A fresh directory under /etc/haproxy (the balancer may write only there). */
export async function haproxyDir(): Promise<HAProxyDir> {
  await Deno.mkdir("/etc/haproxy", { recursive: true });
  const path = await Deno.makeTempDir({
    dir: "/etc/haproxy",
    prefix: "docker-glue-test-",
  });
  const config = `${path}/haproxy.cfg`;
  return {
    path,
    config,
    listenArgs: (httpPort, statsBind = "") => [
      "--config-file",
      config,
      "--http-bind",
      `127.0.0.1:${httpPort}`,
      // The one admin socket the binary may use (lib/permissions.ts); tests
      // run one at a time, so they can share it.
      "--stats-socket",
      ADMIN_SOCKET,
      "--stats-bind",
      statsBind,
    ],
    certs: `${path}/certs`,
    httpsArgs: (httpsPort) => [
      "--https-bind",
      `127.0.0.1:${httpsPort}`,
      "--tls-cert-dir",
      `${path}/certs`,
    ],
    remove: () => Deno.remove(path, { recursive: true }),
  };
}

/** A running HAProxy master (`-W`), reloaded with SIGUSR2. */
export interface HAProxy {
  readonly pid: number;
  stop(): Promise<void>;
}

/**
 * Starts HAProxy in master-worker mode on `configFile`, with its master CLI
 * on {@link MASTER_SOCKET} so {@link masterReloads} can count its reloads.
 */
export function startHaproxy(configFile: string): HAProxy {
  Deno.mkdirSync(HAPROXY_RUN_DIR, { recursive: true });
  const child = new Deno.Command("haproxy", {
    args: ["-W", "-db", "-S", `${MASTER_SOCKET},mode,600`, "-f", configFile],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  return {
    pid: child.pid,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch {
        // already gone
      }
      await child.status;
      // HAProxy leaves its socket files behind (the tests' configurations
      // put the admin socket at ADMIN_SOCKET).
      for (const socket of [MASTER_SOCKET, ADMIN_SOCKET]) {
        await Deno.remove(socket).catch(() => {});
      }
    },
  };
}
