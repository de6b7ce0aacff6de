/**
 * Real-program helpers for end-to-end tests: the Docker CLI, a test image
 * built with `docker import` from busybox-static, a private bridge network,
 * HAProxy in master-worker mode, docker-balancer run from source with its
 * compiled permission set, and a raw HTTP client (so the Host header is ours).
 *
 * Everything a test creates carries the label `docker-glue-test` and is
 * removed by its cleanup.
 *
 * @module
 */

import {
  BALANCER_PERMISSIONS,
  GLUE_PERMISSIONS,
  HAPROXY_RUN_DIR,
  HAPROXY_SOCKETS,
  RUNTIME_FLAGS,
} from "../../lib/permissions.ts";
import { parseShowProc, type ProcList } from "../../lib/haproxy/process.ts";
import { sendCommand } from "../../lib/haproxy/runtime.ts";
import type { RouteReport } from "../../lib/haproxy/report.ts";
import { assertEquals } from "../_fixtures/assert.ts";
import type { Cleanup } from "../_fixtures/cleanup.ts";

const decoder = new TextDecoder();
/** The repository root (the entry points run with it as working directory). */
export const ROOT = new URL("../../", import.meta.url).pathname;

/**
 * Whether this is a CI run (`CI=true`). There every program a test needs is
 * installed by set-up, so a missing one fails the test instead of skipping it.
 */
export const IN_CI = Deno.env.get("CI") === "true";

/**
 * The `ignore` value of a test (or step) that needs something: ignored when
 * it is missing, except under CI, where the test runs and fails on it.
 */
export function ignoreWithout(available: boolean): boolean {
  return !available && !IN_CI;
}

/** Image every test container runs. */
export const IMAGE = "docker-glue-test/busybox:3";
/** Label on every object the tests create. */
export const TEST_LABEL = "docker-glue-test";

/** Runs a program; returns stdout, throws with stderr on failure. */
export async function sh(program: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command(program, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(
      `${program} ${args.join(" ")} failed (${out.code}): ${
        decoder.decode(out.stderr).trim()
      }`,
    );
  }
  return decoder.decode(out.stdout).trim();
}

/** Runs the Docker CLI. */
export function docker(...args: string[]): Promise<string> {
  return sh("docker", ...args);
}

/** Polls `probe` until it returns a value other than undefined, or throws after `ms`. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  ms = 20000,
  every = 50,
): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, every));
  }
  throw new Error(
    `Timed out after ${ms} ms waiting for ${what}${last ? `: ${last}` : ""}`,
  );
}

// The container's entry point: serve /whoami under / and under every path in
// $SERVE_PATHS, each answering "<NAME> <path>", so a response shows which
// container answered and which path reached it. It stops the way a
// well-behaved service does: on SIGTERM it closes the listener (new
// connections are refused), lets requests in flight finish, then exits.
const SERVE = `#!/bin/sh
for p in / $SERVE_PATHS; do mkdir -p "/www$p"; echo "$NAME $p" > "/www$p/whoami"; done
httpd -f -p "\${PORT:-80}" -h /www &
pid=$!
trap 'kill $pid; sleep 1; exit 0' TERM
wait $pid
`;

/** Builds the test image from the host's busybox-static, once. */
export async function ensureImage(): Promise<void> {
  try {
    await docker("image", "inspect", IMAGE);
    return;
  } catch {
    // not built yet
  }
  const busybox = ["/bin/busybox", "/usr/bin/busybox"].find((path) => {
    try {
      return Deno.statSync(path).isFile;
    } catch {
      return false;
    }
  });
  if (busybox === undefined) throw new Error("busybox-static is not installed");
  const root = await Deno.makeTempDir({ prefix: "docker-glue-rootfs-" });
  try {
    for (const dir of ["bin", "www", "tmp"]) await Deno.mkdir(`${root}/${dir}`);
    await Deno.copyFile(busybox, `${root}/bin/busybox`);
    await Deno.chmod(`${root}/bin/busybox`, 0o755);
    for (
      const applet of [
        "sh",
        "httpd",
        "nc",
        "echo",
        "mkdir",
        "cat",
        "wget",
        "sleep",
        "touch",
        "test",
        "true",
        "false",
      ]
    ) {
      await Deno.symlink("busybox", `${root}/bin/${applet}`);
    }
    await Deno.writeTextFile(`${root}/bin/serve`, SERVE, { mode: 0o755 });
    await Deno.chmod(`${root}/bin/serve`, 0o755);
    const tar = `${root}.tar`;
    await sh("tar", "-C", root, "-cf", tar, ".");
    await docker(
      "import",
      "--change",
      "EXPOSE 80",
      "--change",
      'CMD ["/bin/serve"]',
      "--change",
      `LABEL ${TEST_LABEL}=1`,
      tar,
      IMAGE,
    );
    await Deno.remove(tar);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

/**
 * A bridge network created for one test; `remove()` removes the test
 * containers on it, then the network. The name gets
 * a random suffix: Docker can keep a removed container's endpoint on a
 * network for a while (or, after a hard stop, for good), and a fixed name
 * would then collide with that leftover.
 */
export async function createNetwork(
  name: string,
): Promise<{ name: string; remove(): Promise<void> }> {
  // Best effort: leftovers of earlier runs with this base name.
  const old = (await docker(
    "network",
    "ls",
    "-q",
    "--filter",
    `label=${TEST_LABEL}`,
    "--filter",
    `name=${name}-`,
  ))
    .split("\n").filter(Boolean);
  for (const id of old) await docker("network", "rm", id).catch(() => {});
  const unique = `${name}-${crypto.randomUUID().slice(0, 6)}`;
  await docker(
    "network",
    "create",
    "--driver",
    "bridge",
    "--label",
    TEST_LABEL,
    unique,
  );
  return {
    name: unique,
    async remove() {
      await removeContainersOn(unique);
      await removeNetwork(unique);
    },
  };
}

/**
 * Removes a test network, waiting while Docker still releases the endpoints
 * of containers that were just removed, and disconnecting by force
 * endpoints whose container is gone. After a storm of removals Docker 20.10
 * can take minutes to let go of endpoints it no longer lists (seen: over
 * 60 s, with `Containers` empty); rather than hold the suite up, a
 * background remover then keeps trying for ten minutes, so no network is
 * left behind.
 */
async function removeNetwork(name: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (let attempt = 0; Date.now() < deadline; attempt++) {
    try {
      await docker("network", "rm", name);
      return;
    } catch (error) {
      const text = String(error);
      if (text.includes("No such network") || text.includes("not found")) {
        return;
      }
    }
    if (attempt >= 10) {
      const endpoints = await docker(
        "network",
        "inspect",
        name,
        "--format",
        "{{range $id, $c := .Containers}}{{$c.Name}}\n{{end}}",
      ).catch(() => "");
      for (const endpoint of endpoints.split("\n").filter(Boolean)) {
        await docker("network", "disconnect", "-f", name, endpoint).catch(
          () => {},
        );
      }
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  console.log(
    `network ${name}: Docker still holds endpoints; removing it in the background`,
  );
  new Deno.Command("sh", {
    args: [
      "-c",
      'for i in $(seq 120); do docker network rm "$1" >/dev/null 2>&1 && exit 0; sleep 5; done',
      "sh",
      name,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn().unref();
}

/** Options for {@link runContainer}. */
export interface RunOptions {
  labels?: Record<string, string>;
  network: string;
  servePaths?: string[];
  /** Port httpd listens on inside the container (default 80, the image's EXPOSE). */
  port?: number;
  extra?: string[];
  /** Command and arguments after the image, instead of the image's. */
  command?: string[];
  /**
   * Run httpd as PID 1 with no signal handler, like many real images: it
   * ignores SIGTERM, and `docker stop` kills it after the timeout.
   */
  ignoreSigterm?: boolean;
}

/** Starts a test container named `name` that answers with its name; returns its id. */
export function runContainer(
  name: string,
  options: RunOptions,
): Promise<string> {
  const args = [
    "run",
    "-d",
    "--name",
    name,
    "--network",
    options.network,
    "-l",
    TEST_LABEL,
  ];
  for (const [key, value] of Object.entries(options.labels ?? {})) {
    args.push("-l", `${key}=${value}`);
  }
  args.push(
    "-e",
    `NAME=${name}`,
    "-e",
    `SERVE_PATHS=${(options.servePaths ?? []).join(" ")}`,
  );
  if (options.port !== undefined) {
    args.push("-e", `PORT=${options.port}`, "--expose", String(options.port));
  }
  args.push(...(options.extra ?? []), IMAGE, ...(options.command ?? []));
  if (options.ignoreSigterm) {
    args.push(
      "sh",
      "-c",
      'mkdir -p /www && echo "$NAME /" > /www/whoami && exec httpd -f -p "${PORT:-80}" -h /www',
    );
  }
  return docker(...args);
}

/** Removes the named containers (those that exist). */
export async function removeContainers(...names: string[]): Promise<void> {
  if (names.length > 0) await docker("rm", "-f", ...names).catch(() => {});
}

/**
 * Set-up only: removes every test container a crashed earlier run left
 * behind, whose fixed names would collide with this test's. The suite runs
 * one test at a time (docs/development.md), so none of them is another
 * test's; a test's own teardown removes only what it made.
 */
export async function clearLeftoverContainers(): Promise<void> {
  const ids = (await docker("ps", "-aq", "--filter", `label=${TEST_LABEL}`))
    .split("\n").filter(Boolean);
  if (ids.length > 0) await docker("rm", "-f", ...ids);
}

/** Removes the test containers attached to `network`, running or not. */
async function removeContainersOn(network: string): Promise<void> {
  const ids = (await docker(
    "ps",
    "-aq",
    "--filter",
    `network=${network}`,
    "--filter",
    `label=${TEST_LABEL}`,
  ).catch(() => "")).split("\n").filter(Boolean);
  if (ids.length > 0) await docker("rm", "-f", ...ids);
}

const givenPorts = new Set<number>();

/**
 * A free TCP port on 127.0.0.1, never one handed out before in this run: the
 * listener that finds it is closed before the port is used, so the kernel
 * may offer the same port to the next call.
 */
export function freePort(): number {
  while (true) {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close();
    if (!givenPorts.has(port)) {
      givenPorts.add(port);
      return port;
    }
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

/** An HTTP response as the client saw it. */
export interface Response {
  status: number;
  body: string;
}

/**
 * Opens a TCP connection to 127.0.0.1:`port`, writes `payload`, and returns
 * everything the peer sends until it closes (or `timeoutMs` passes).
 */
export async function tcpExchange(
  port: number,
  payload: string,
  timeoutMs = 3000,
): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const timer = setTimeout(() => conn.close(), timeoutMs);
  try {
    await conn.write(new TextEncoder().encode(payload));
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(16384);
    while (true) {
      const n = await conn.read(buf);
      if (n === null) break;
      chunks.push(buf.slice(0, n));
    }
    return decoder.decode(new Uint8Array(chunks.flatMap((c) => [...c])));
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // closed by the timer or the peer
    }
  }
}

/** Splits a raw HTTP response into status and trimmed body. */
export function parseResponse(text: string): Response {
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);
  return { status, body: text.slice(text.indexOf("\r\n\r\n") + 4).trim() };
}

/** Sends one HTTP/1.0 request to 127.0.0.1:`port` with the given Host header. */
export async function httpGet(
  port: number,
  host: string,
  path: string,
  timeoutMs = 3000,
): Promise<Response> {
  return parseResponse(
    await tcpExchange(
      port,
      `GET ${path} HTTP/1.0\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
      timeoutMs,
    ),
  );
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

/** Waits until `host` + `path` through HAProxy answers with `status`. */
export async function waitForStatus(
  port: number,
  host: string,
  path: string,
  status: number,
  ms = 20000,
): Promise<void> {
  await waitFor(
    `${host}${path} to answer ${status}`,
    async () => {
      const res = await httpGet(port, host, path);
      return res.status === status ? true : undefined;
    },
    ms,
    50,
  );
}

/** Waits until `host` + `path` through HAProxy answers 200 with `body`; resolves to the wait in ms. */
export async function waitForBody(
  port: number,
  host: string,
  path: string,
  body: string,
  ms = 20000,
): Promise<number> {
  const start = performance.now();
  await waitFor(
    `${host}${path} to answer "${body}"`,
    async () => {
      const res = await httpGet(port, host, path);
      return res.status === 200 && res.body === body ? true : undefined;
    },
    ms,
    20,
  );
  return performance.now() - start;
}

/** A process whose standard error is collected line by line. */
export class Process {
  readonly #child: Deno.ChildProcess;
  readonly #lines: string[] = [];
  readonly #stdout: string[] = [];
  readonly #done: Promise<void>;
  #exited = false;
  /** Exit status once it has exited. */
  readonly status: Promise<Deno.CommandStatus>;

  /** Spawns the command. */
  constructor(program: string, args: string[], env?: Record<string, string>) {
    this.#child = new Deno.Command(program, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      cwd: ROOT,
      ...(env ? { env } : {}),
    }).spawn();
    const collect = async (
      stream: ReadableStream<Uint8Array>,
      into: string[],
    ) => {
      let rest = "";
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        rest += chunk;
        const parts = rest.split("\n");
        rest = parts.pop() ?? "";
        into.push(...parts);
      }
      if (rest !== "") into.push(rest);
    };
    this.#done = Promise.all([
      collect(this.#child.stderr, this.#lines),
      collect(this.#child.stdout, this.#stdout),
    ]).then(() => {});
    this.status = this.#child.status;
    this.status.then(() => this.#exited = true);
  }

  /** Whether it has exited. */
  get exited(): boolean {
    return this.#exited;
  }

  /** Process id. */
  get pid(): number {
    return this.#child.pid;
  }

  /** Resident memory in KiB, as ps reports it. */
  async rssKiB(): Promise<number> {
    return Number(await sh("ps", "-o", "rss=", "-p", String(this.#child.pid)));
  }

  /** Lines written to standard error so far. */
  get lines(): readonly string[] {
    return this.#lines;
  }

  /** Lines written to standard output so far. */
  get stdout(): readonly string[] {
    return this.#stdout;
  }

  /** How many stderr lines match `pattern`. */
  count(pattern: RegExp): number {
    return this.#lines.filter((line) => pattern.test(line)).length;
  }

  /** Waits until a stderr line matches `pattern`; returns it. */
  waitForLine(pattern: RegExp, ms = 20000): Promise<string> {
    return waitFor(
      `a log line matching ${pattern}`,
      () => Promise.resolve(this.#lines.find((l) => pattern.test(l))),
      ms,
    );
  }

  /**
   * Waits until at least `count` stderr lines match `pattern` (for "one
   * more than before": the count taken before the action, plus one).
   */
  async waitForCount(
    pattern: RegExp,
    count: number,
    ms = 20000,
  ): Promise<void> {
    await waitFor(
      `${count} log lines matching ${pattern}`,
      () => Promise.resolve(this.count(pattern) >= count ? true : undefined),
      ms,
    );
  }

  /** Sends a signal. */
  kill(signal: Deno.Signal = "SIGTERM"): void {
    this.#child.kill(signal);
  }

  /** Stops it with SIGTERM and waits for the exit and the output. */
  async stop(): Promise<Deno.CommandStatus> {
    try {
      this.#child.kill("SIGTERM");
    } catch {
      // already gone
    }
    const status = await this.status;
    await this.#done;
    return status;
  }

  /** Waits for the exit and the output. */
  async finished(): Promise<Deno.CommandStatus> {
    const status = await this.status;
    await this.#done;
    return status;
  }
}

/** Starts an entry point from source with the permissions its binary is compiled with. */
function startEntry(
  entry: string,
  permissions: readonly string[],
  args: string[],
  extraPermissions: string[],
): Process {
  return new Process(Deno.execPath(), [
    "run",
    ...RUNTIME_FLAGS,
    ...permissions,
    ...extraPermissions,
    entry,
    ...args,
  ]);
}

async function runEntry(
  process: Process,
): Promise<{ code: number; stderr: string; stdout: string }> {
  const status = await process.finished();
  return {
    code: status.code,
    stderr: process.lines.join("\n"),
    stdout: process.stdout.join("\n"),
  };
}

/** Starts docker-balancer from source with its compiled permissions. */
export function startBalancer(
  args: string[],
  extraPermissions: string[] = [],
): Process {
  return startEntry(
    "balancer.ts",
    BALANCER_PERMISSIONS,
    args,
    extraPermissions,
  );
}

/** Runs docker-balancer to completion. */
export function runBalancer(
  args: string[],
  extraPermissions: string[] = [],
): Promise<{ code: number; stderr: string; stdout: string }> {
  return runEntry(startBalancer(args, extraPermissions));
}

/**
 * `docker-balancer routes --json` with the daemon's `args`: the report as
 * the program writes it. Throws, with its stderr, when it exits non-zero.
 */
export async function readRoutes(args: string[]): Promise<RouteReport> {
  const out = await runBalancer(["routes", "--json", ...args]);
  if (out.code !== 0) {
    throw new Error(`routes --json exited ${out.code}: ${out.stderr}`);
  }
  return JSON.parse(out.stdout) as RouteReport;
}

/** Starts docker-glue from source with its compiled permissions. */
export function startGlue(
  args: string[],
  extraPermissions: string[] = [],
): Process {
  return startEntry("main.ts", GLUE_PERMISSIONS, args, extraPermissions);
}

/** Runs docker-glue to completion. */
export function runGlue(
  args: string[],
  extraPermissions: string[] = [],
): Promise<{ code: number; stderr: string; stdout: string }> {
  return runEntry(startGlue(args, extraPermissions));
}

/** A network of the test's own ({@link createNetwork}); `cleanup` removes it and its containers. */
export async function testNetwork(
  cleanup: Cleanup,
  name: string,
): Promise<{ name: string; remove(): Promise<void> }> {
  return cleanup.add("network", await createNetwork(name), (n) => n.remove());
}

/** A HAProxy directory of the test's own ({@link haproxyDir}); `cleanup` removes it. */
export async function testHaproxyDir(cleanup: Cleanup): Promise<HAProxyDir> {
  return cleanup.add(
    "HAProxy directory",
    await haproxyDir(),
    (d) => d.remove(),
  );
}

/** A temporary directory whose name starts with `prefix`; `cleanup` removes it. */
export async function testTempDir(
  cleanup: Cleanup,
  prefix: string,
): Promise<string> {
  return cleanup.add(
    `directory ${prefix}`,
    await Deno.makeTempDir({ prefix }),
    (dir) => Deno.remove(dir, { recursive: true }),
  );
}

/** A temporary file whose name ends with `suffix`; `cleanup` removes it. */
export async function testTempFile(
  cleanup: Cleanup,
  suffix: string,
): Promise<string> {
  return cleanup.add(
    `file *${suffix}`,
    await Deno.makeTempFile({ prefix: "docker-glue-", suffix }),
    (file) => Deno.remove(file),
  );
}

/**
 * Registers a daemon the test started with `cleanup`: it is stopped with
 * SIGTERM (or, once it has exited by itself, waited for), and with
 * `mustExit0` its exit status must be 0. With DG_TEST_LOG=FILE set, what it
 * logged is appended to FILE, for looking into a failure.
 */
export function stopAtEnd<P extends Process>(
  cleanup: Cleanup,
  what: string,
  process: P,
  mustExit0: boolean,
): P {
  return cleanup.add(what, process, async (p) => {
    const status = p.exited ? await p.finished() : await p.stop();
    const file = Deno.env.get("DG_TEST_LOG");
    if (file) {
      await Deno.writeTextFile(file, `=== ${what}\n${p.lines.join("\n")}\n`, {
        append: true,
      });
    }
    if (!mustExit0) return;
    assertEquals(
      status.code,
      0,
      `${what} exited with ${status.code}:\n${p.lines.slice(-20).join("\n")}`,
    );
  });
}

/** {@link stopAtEnd}, requiring exit status 0. */
export function stopsCleanly<P extends Process>(
  cleanup: Cleanup,
  what: string,
  process: P,
): P {
  return stopAtEnd(cleanup, what, process, true);
}

/**
 * The usual set-up: docker-balancer `-1` renders a first configuration
 * (`args` must name it with --config-file), HAProxy starts on it in
 * master-worker mode, then docker-balancer `-w` follows events and reloads
 * that HAProxy with SIGUSR2. Both are stopped by `cleanup` (the balancer
 * first, and it must exit 0).
 */
export async function startBalancerWithHaproxy(
  cleanup: Cleanup,
  config: string,
  args: string[],
): Promise<{ balancer: Process; haproxy: HAProxy }> {
  const first = await runBalancer(["-1", ...args, "--reload-cmd", ""]);
  if (first.code !== 0) {
    throw new Error(
      `docker-balancer -1 exited with ${first.code}: ${first.stderr}`,
    );
  }
  const haproxy = cleanup.add(
    "HAProxy",
    startHaproxy(config),
    (h) => h.stop(),
  );
  const balancer = stopsCleanly(
    cleanup,
    "docker-balancer",
    startBalancer([
      "-w",
      ...args,
      "--reload-cmd",
      `kill -USR2 ${haproxy.pid}`,
    ]),
  );
  return { balancer, haproxy };
}

/** A balancer of a test's own, running HAProxy itself, on a fresh network and directory. */
export interface ManagedSetup {
  /** The network its containers go on. */
  readonly net: { name: string; remove(): Promise<void> };
  /** Its HAProxy directory. */
  readonly dir: HAProxyDir;
  /** HAProxy's HTTP port on 127.0.0.1. */
  readonly port: number;
  /** The flags naming the directory and port, for other runs against it (`routes`). */
  readonly args: string[];
  /** The balancer (`-w --haproxy managed`). */
  readonly balancer: Process;
}

/**
 * Starts a managed balancer (`-w --haproxy managed`, plus `extra` flags) on a
 * fresh network named after `network` and a fresh directory. `cleanup`
 * stops the balancer (which must exit 0) and removes the network, the
 * containers on it and the directory.
 */
export async function startManaged(
  cleanup: Cleanup,
  network: string,
  extra: string[] = [],
): Promise<ManagedSetup> {
  await ensureImage();
  await clearLeftoverContainers();
  const net = await testNetwork(cleanup, network);
  const dir = await testHaproxyDir(cleanup);
  const port = freePort();
  const args = dir.listenArgs(port);
  const balancer = stopsCleanly(
    cleanup,
    "docker-balancer",
    startBalancer(["-w", "--haproxy", "managed", ...args, ...extra]),
  );
  return { net, dir, port, args, balancer };
}

/** Whether the test setup started the running Docker engine (so a test may restart it). */
export async function engineStartedHere(): Promise<boolean> {
  const out = await new Deno.Command("bash", {
    args: [`${ROOT}tests/setup/dockerd.sh`, "started"],
    stdout: "null",
    stderr: "null",
  }).output();
  return out.success;
}

/** Restarts the Docker engine the test setup started. */
export async function restartEngine(): Promise<void> {
  await sh("bash", `${ROOT}tests/setup/dockerd.sh`, "restart");
}
