/**
 * The Docker CLI for tests: the test image built with `docker import` from
 * busybox-static, networks and containers labelled `docker-glue-test`, and
 * the engine the set-up started.
 *
 * @module
 */

import { ROOT, sh } from "./base.ts";

/** Image every test container runs. */
export const IMAGE = "docker-glue-test/busybox:3";
/** Label on every object the tests create. */
export const TEST_LABEL = "docker-glue-test";

/** Runs the Docker CLI. */
export function docker(...args: string[]): Promise<string> {
  return sh("docker", ...args);
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
    await importRoot(root, IMAGE, ["EXPOSE 80", 'CMD ["/bin/serve"]']);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

/**
 * Image with the test image's files that exposes no port, as Docker Hub's
 * busybox: the README's first example runs one.
 */
export const PLAIN_IMAGE = "docker-glue-test/busybox-plain:1";

/** Builds {@link PLAIN_IMAGE} from the test image, once. */
export async function ensurePlainImage(): Promise<void> {
  try {
    await docker("image", "inspect", PLAIN_IMAGE);
    return;
  } catch {
    // not built yet
  }
  await ensureImage();
  const id = await docker("create", "-l", `${TEST_LABEL}=1`, IMAGE);
  try {
    await sh(
      "sh",
      "-c",
      'docker export "$1" | docker import --change "LABEL $2=1" - "$3"',
      "sh",
      id,
      TEST_LABEL,
      PLAIN_IMAGE,
    );
  } finally {
    await docker("rm", "-f", id);
  }
}

/** Makes `image` of the files under `root` with Dockerfile `changes`, labelled as the tests'. */
async function importRoot(
  root: string,
  image: string,
  changes: readonly string[],
): Promise<void> {
  const tar = `${root}.tar`;
  await sh("tar", "-C", root, "-cf", tar, ".");
  try {
    await docker(
      "import",
      ...[...changes, `LABEL ${TEST_LABEL}=1`].flatMap((c) => ["--change", c]),
      tar,
      image,
    );
  } finally {
    await Deno.remove(tar);
  }
}

/** Image of containers that serve HTTPS: busybox and the host's openssl. */
export const TLS_IMAGE = "docker-glue-test/openssl:1";

/**
 * Builds {@link TLS_IMAGE} once: `openssl s_server -WWW` and the shared
 * libraries `ldd` names, beside busybox. A container of it serves the files
 * of /www over TLS with the certificate mounted at /tls/bundle.pem.
 */
export async function ensureTlsImage(): Promise<void> {
  try {
    await docker("image", "inspect", TLS_IMAGE);
    return;
  } catch {
    // not built yet
  }
  const root = await Deno.makeTempDir({ prefix: "docker-glue-tls-rootfs-" });
  try {
    const files = ["/usr/bin/openssl", "/bin/busybox"];
    for (const line of (await sh("ldd", "/usr/bin/openssl")).split("\n")) {
      const path = /(\/\S+) \(0x/.exec(line)?.[1];
      if (path !== undefined) files.push(path);
    }
    for (const file of files) {
      const to = `${root}${file}`;
      await Deno.mkdir(to.slice(0, to.lastIndexOf("/")), { recursive: true });
      await Deno.copyFile(await Deno.realPath(file), to);
      await Deno.chmod(to, 0o755);
    }
    for (const applet of ["sh", "mkdir", "echo"]) {
      await Deno.symlink("busybox", `${root}/bin/${applet}`);
    }
    await Deno.mkdir(`${root}/www`);
    await Deno.mkdir(`${root}/tmp`);
    await importRoot(root, TLS_IMAGE, [
      "EXPOSE 443",
      "WORKDIR /www",
      `CMD ["/bin/sh", "-c", "echo \\"$NAME /\\" > /www/whoami && exec openssl s_server -quiet -accept 443 -cert /tls/bundle.pem -key /tls/bundle.pem -WWW"]`,
    ]);
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
  ipv6Subnet?: string,
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
    ...(ipv6Subnet === undefined ? [] : ["--ipv6", "--subnet", ipv6Subnet]),
    unique,
  );
  return {
    name: unique,
    async remove() {
      const names = await removeContainersOn(unique);
      const formerly = [...namesOn.get(unique) ?? [], ...names];
      namesOn.delete(unique);
      await removeNetwork(unique, formerly);
    },
  };
}

/**
 * Removes a test network, waiting while Docker still releases the endpoints
 * of containers that were just removed, and disconnecting by force
 * endpoints whose container is gone. Docker 20.10 can keep an endpoint it
 * no longer lists under `Containers` (seen after a storm of removals, and
 * once in CI after a restart-policy container was removed mid-restart),
 * and only `network disconnect -f` with the endpoint's name, which is the
 * container's, lets it go: so the names of the containers that were on the
 * network (`formerly`) are tried too. If that still fails, a background
 * remover keeps trying for ten minutes rather than hold the suite up.
 */
async function removeNetwork(
  name: string,
  formerly: string[] = [],
): Promise<void> {
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
    if (attempt >= 4) {
      const listed = await docker(
        "network",
        "inspect",
        name,
        "--format",
        "{{range $id, $c := .Containers}}{{$c.Name}}\n{{end}}",
      ).catch(() => "");
      const endpoints = new Set([
        ...listed.split("\n").filter(Boolean),
        ...formerly,
      ]);
      for (const endpoint of endpoints) {
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
  /** Image instead of {@link IMAGE}, such as {@link TLS_IMAGE}. */
  image?: string;
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
  return docker("run", "-d", ...containerArgs(name, options));
}

/**
 * Creates the test container {@link runContainer} would start, without
 * starting it (`docker start` does); returns its id.
 */
export function createContainer(
  name: string,
  options: RunOptions,
): Promise<string> {
  return docker("create", ...containerArgs(name, options));
}

/**
 * Names of the containers the harness put on each test network, so that
 * removing the network can force out an endpoint Docker kept for one.
 */
const namesOn = new Map<string, Set<string>>();

/**
 * The labels and environment of a test container, the same through the
 * CLI and the API; notes its name on its network.
 */
function containerSpec(
  name: string,
  options: RunOptions,
): { labels: Record<string, string>; env: string[] } {
  const names = namesOn.get(options.network) ?? new Set();
  namesOn.set(options.network, names.add(name));
  const env = [
    `NAME=${name}`,
    `SERVE_PATHS=${(options.servePaths ?? []).join(" ")}`,
  ];
  if (options.port !== undefined) env.push(`PORT=${options.port}`);
  return { labels: { [TEST_LABEL]: "", ...options.labels }, env };
}

/** The arguments of `docker run` or `docker create` for a test container. */
function containerArgs(name: string, options: RunOptions): string[] {
  const { labels, env } = containerSpec(name, options);
  const args = ["--name", name, "--network", options.network];
  for (const [key, value] of Object.entries(labels)) {
    args.push("-l", `${key}=${value}`);
  }
  for (const variable of env) args.push("-e", variable);
  if (options.port !== undefined) args.push("--expose", String(options.port));
  args.push(
    ...(options.extra ?? []),
    options.image ?? IMAGE,
    ...(options.command ?? []),
  );
  if (options.ignoreSigterm) {
    args.push(
      "sh",
      "-c",
      'mkdir -p /www && echo "$NAME /" > /www/whoami && exec httpd -f -p "${PORT:-80}" -h /www',
    );
  }
  return args;
}

/**
 * The Docker engine's API over its socket, for storms of calls: each call
 * of the CLI starts a process that costs more CPU than the call itself.
 * Close it when done (it holds a connection).
 */
export class DockerApi {
  readonly #client = Deno.createHttpClient({
    proxy: { transport: "unix", path: "/var/run/docker.sock" },
  });

  /** Sends one request; returns the parsed answer, or throws with Docker's. */
  async call(method: string, path: string, body?: unknown): Promise<unknown> {
    const response = await fetch(`http://docker${path}`, {
      method,
      client: this.#client,
      ...(body === undefined ? {} : {
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      }),
    });
    const text = await response.text();
    if (!response.ok) {
      throw new Error(
        `docker API ${method} ${path}: ${response.status} ${text.trim()}`,
      );
    }
    return text === "" ? null : JSON.parse(text);
  }

  /**
   * Creates the test container {@link createContainer} would, for the
   * options with the same meaning here (not a port, CLI flags, a command).
   */
  async create(name: string, options: RunOptions): Promise<void> {
    const unsupported = (["port", "extra", "command", "ignoreSigterm"] as const)
      .filter((key) => options[key] !== undefined);
    if (unsupported.length > 0) {
      throw new Error(`DockerApi.create takes no ${unsupported.join(", ")}`);
    }
    const { labels, env } = containerSpec(name, options);
    await this.call("POST", `/containers/create?name=${name}`, {
      Image: IMAGE,
      Labels: labels,
      Env: env,
      HostConfig: { NetworkMode: options.network },
    });
  }

  /** Starts a created container. */
  async start(name: string): Promise<void> {
    await this.call("POST", `/containers/${name}/start`);
  }

  /** Kills a running container (SIGKILL); it stays, stopped. */
  async kill(name: string): Promise<void> {
    await this.call("POST", `/containers/${name}/kill`);
  }

  /** Removes a container, running or not (`docker rm -f`). */
  async remove(name: string): Promise<void> {
    await this.call("DELETE", `/containers/${name}?force=true`);
  }

  /** Closes the connection. */
  close(): void {
    this.#client.close();
  }
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
async function removeContainersOn(network: string): Promise<string[]> {
  const rows = (await docker(
    "ps",
    "-a",
    "--filter",
    `network=${network}`,
    "--filter",
    `label=${TEST_LABEL}`,
    "--format",
    "{{.ID}} {{.Names}}",
  ).catch(() => "")).split("\n").filter(Boolean).map((row) => row.split(" "));
  if (rows.length > 0) await docker("rm", "-f", ...rows.map(([id]) => id!));
  return rows.map(([, name]) => name!).filter(Boolean);
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
