/**
 * A test's parts made and registered for cleanup as they are made.
 *
 * @module
 */

import { assertEquals } from "../../_fixtures/assert.ts";
import type { Cleanup } from "../../_fixtures/cleanup.ts";
import {
  clearLeftoverContainers,
  createNetwork,
  docker,
  ensureImage,
  runContainer,
} from "./docker.ts";
import {
  freePort,
  type HAProxy,
  type HAProxyDir,
  haproxyDir,
  startHaproxy,
} from "./haproxy.ts";
import { type Process, runBalancer, startBalancer } from "./process.ts";

/** A network of the test's own ({@link createNetwork}); `cleanup` removes it and its containers. */
export async function testNetwork(
  cleanup: Cleanup,
  name: string,
  ipv6Subnet?: string,
): Promise<{ name: string; remove(): Promise<void> }> {
  return cleanup.add(
    "network",
    await createNetwork(name, ipv6Subnet),
    (n) => n.remove(),
  );
}

/** A HAProxy directory of the test's own ({@link haproxyDir}); `cleanup` removes it. */
export async function testHaproxyDir(cleanup: Cleanup): Promise<HAProxyDir> {
  return cleanup.add(
    "HAProxy directory",
    await haproxyDir(),
    (d) => d.remove(),
  );
}

/**
 * A temporary directory whose name starts with `prefix`, in `under` (the
 * system's temporary directory by default); `cleanup` removes it.
 */
export async function testTempDir(
  cleanup: Cleanup,
  prefix: string,
  under?: string,
): Promise<string> {
  return cleanup.add(
    `directory ${prefix}`,
    await Deno.makeTempDir({ prefix, ...(under ? { dir: under } : {}) }),
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
 * `mustExit0` its exit status must be 0. When the test failed, its last
 * lines are printed; with DG_TEST_LOG=FILE set, all it logged is appended
 * to FILE.
 */
export function stopAtEnd<P extends Process>(
  cleanup: Cleanup,
  what: string,
  process: P,
  mustExit0: boolean,
): P {
  return cleanup.add(what, process, async (p) => {
    const status = p.exited ? await p.finished() : await p.stop();
    // A failed test shows what the daemon said last: in CI there is no
    // other way to look.
    if (cleanup.failed) {
      console.error(
        `=== ${what}, last lines\n${p.lines.slice(-40).join("\n")}`,
      );
    }
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
  /**
   * The network's gateway, where HAProxy's HTTP listener is reachable from
   * containers (on the same port) when asked for; "" otherwise.
   */
  readonly gateway: string;
}

/**
 * Starts a managed balancer (`-w --haproxy managed`, plus `extra` flags) on a
 * fresh network named after `network` and a fresh directory; with
 * `fromContainers`, HAProxy's HTTP listener is also on the network's
 * gateway, for clients in containers. Returns once HAProxy runs.
 * `cleanup` stops the balancer (which must exit 0) and removes the
 * network, the containers on it and the directory.
 */
export async function startManaged(
  cleanup: Cleanup,
  network: string,
  extra: string[] = [],
  fromContainers = false,
): Promise<ManagedSetup> {
  await ensureImage();
  await clearLeftoverContainers();
  const net = await testNetwork(cleanup, network);
  const dir = await testHaproxyDir(cleanup);
  const port = freePort();
  const gateway = fromContainers
    ? (await docker(
      "network",
      "inspect",
      "-f",
      "{{(index .IPAM.Config 0).Gateway}}",
      net.name,
    )).trim()
    : "";
  const args = [
    ...dir.listenArgs(port),
    ...(gateway === ""
      ? []
      : ["--http-bind", `127.0.0.1:${port},${gateway}:${port}`]),
  ];
  const balancer = await managedBalancer(cleanup, [...args, ...extra]);
  return { net, dir, port, args, balancer, gateway };
}

/**
 * Starts docker-balancer `-w --haproxy managed` with `args`, with its
 * compiled permissions and `extraPermissions`; returns once HAProxy runs.
 * `cleanup` stops it, and it must exit 0.
 */
export async function managedBalancer(
  cleanup: Cleanup,
  args: string[],
  extraPermissions: string[] = [],
): Promise<Process> {
  const balancer = stopsCleanly(
    cleanup,
    "docker-balancer",
    startBalancer(["-w", "--haproxy", "managed", ...args], extraPermissions),
  );
  await balancer.waitForLine(/Started HAProxy/);
  return balancer;
}

// What every script server starts with: `read_head` reads the request up
// to its blank line into $head, a line each, without the CRs.
const READ_HEAD = `#!/bin/sh
read_head() {
  head=""
  while IFS= read -r line; do
    line=$(printf '%s' "$line" | busybox tr -d '\\r')
    [ -z "$line" ] && break
    head="$head$line
"
  done
}
`;

/**
 * Starts a container that runs `script` (busybox sh, with `read_head` to
 * read the request's head into $head) for each connection to its port 80,
 * as `nc -ll -e` does: for servers busybox httpd cannot be (WebSockets,
 * chosen status codes). `files` go beside it in /srv, which is mounted from
 * a directory of the test's; returns that directory.
 */
export async function runScriptServer(
  cleanup: Cleanup,
  name: string,
  options: {
    network: string;
    labels: Record<string, string>;
    /** Seconds the container waits before it listens. */
    listenAfter?: number;
  },
  script: string,
  files: Record<string, string> = {},
): Promise<string> {
  const dir = await testTempDir(cleanup, `docker-glue-${name}-`);
  await Deno.writeTextFile(`${dir}/serve.sh`, READ_HEAD + script, {
    mode: 0o755,
  });
  for (const [file, text] of Object.entries(files)) {
    await Deno.writeTextFile(`${dir}/${file}`, text, { mode: 0o644 });
  }
  await Deno.chmod(dir, 0o755);
  const serve = ["busybox", "nc", "-ll", "-p", "80", "-e", "/srv/serve.sh"];
  const { listenAfter, ...run } = options;
  await runContainer(name, {
    ...run,
    extra: ["-v", `${dir}:/srv:ro`],
    command: listenAfter === undefined
      ? serve
      : ["sh", "-c", `sleep ${listenAfter} && exec ${serve.join(" ")}`],
  });
  return dir;
}
