/**
 * The Deno permission flags each binary is compiled with. The compile task,
 * the `balancer` task and the end-to-end tests all read them from here, so a
 * permission missing from a release fails a test first.
 *
 * @module
 */

/**
 * V8 settings both binaries run with. `--optimize-for-size` keeps the heap
 * close to what is live: under an event storm (200 containers started and
 * removed twice) resident memory stayed at 84-95 MB with it and grew to
 * 125-173 MB without it, with 16-37 MB of live heap either way.
 * `--no-opt` leaves out V8's optimizing compiler (TurboFan), whose code and
 * compile work a mostly idle daemon does not earn back: with 400 containers
 * docker-balancer held 91 MB instead of 95 (91 instead of 98 after a storm
 * of 50), and `deno task bench:scale` was no slower (10,000 containers:
 * first update 705-838 ms instead of 1128-1564, join p50 2.0-2.1 ms
 * instead of 2.3-2.8). `--lite-mode` saved 6 MB more but made the engine's
 * updates 1.5-2.5 times slower.
 */
export const RUNTIME_FLAGS: readonly string[] = [
  "--v8-flags=--optimize-for-size,--no-opt",
];

/**
 * Environment both binaries run with: glibc malloc's settings, which the
 * systemd units set, as a compiled binary cannot. glibc gives each thread
 * that allocates at once an arena of its own and keeps what they freed:
 * with at most two, docker-balancer with 400 containers held 90-91 MB
 * instead of 100 MB, and 90 MB instead of 97 after a storm of 50. Fixed
 * mmap and trim thresholds stop malloc from raising them as large blocks
 * come and go, so what is freed goes back to the system: 82 MB instead of
 * 95 at 400, 83 instead of 95 after storms of 50 and 100 (balancers side
 * by side on the same containers), and `deno task bench:scale` was no
 * slower (10,000 containers, four runs each, alternating: join p50
 * 2.33-2.52 ms against 2.42-3.47 ms without).
 */
export const RUNTIME_ENV: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: "2",
  MALLOC_MMAP_THRESHOLD_: "65536",
  MALLOC_TRIM_THRESHOLD_: "131072",
};

/** Docker sockets the binaries may talk to, and Podman's Docker-compatible one (rootful). */
export const DOCKER_SOCKETS: readonly string[] = [
  "/var/run/docker.sock",
  "/run/docker.sock",
  "/run/podman/podman.sock",
];

/**
 * Docker engines reached over TCP that the binaries may connect to: the
 * TLS port on this host. Another host's engine (`--docker-url
 * tcp://host2:2376`) needs `deno task compile --allow-net=host2:2376`.
 */
export const DOCKER_TCP_HOSTS: readonly string[] = [
  "127.0.0.1:2376",
  "localhost:2376",
];

/** etcd endpoints the binaries may reach: a local etcd. Other endpoints need a build with them. */
export const ETCD_HOSTS: readonly string[] = [
  "127.0.0.1:2379",
  "localhost:2379",
];

/**
 * ACME servers the binaries may reach: Let's Encrypt (production and
 * staging), ZeroSSL, and an ACME server on this host at Pebble's port
 * (a private CA, and the tests). Another CA needs a build with it.
 */
export const ACME_HOSTS: readonly string[] = [
  "acme-v02.api.letsencrypt.org",
  "acme-staging-v02.api.letsencrypt.org",
  "acme.zerossl.com",
  "127.0.0.1:14000",
  "localhost:14000",
];

/**
 * Where a managed HAProxy's sockets live. Deno grants unix sockets by exact
 * path, so the runtime API works with the default `--stats-socket`; another
 * path means reloads only, unless the binary is built with it.
 */
export const HAPROXY_RUN_DIR = "/run/haproxy";

/** HAProxy's admin socket (the default `--stats-socket`) and the master CLI beside it. */
export const HAPROXY_SOCKETS: readonly string[] = [
  `${HAPROXY_RUN_DIR}/admin.sock`,
  `${HAPROXY_RUN_DIR}/master.sock`,
];

/** The port `--metrics-listen` may use without a build of its own. */
export const METRICS_PORT = 9612;

/**
 * Where `--metrics-listen` may listen: port {@link METRICS_PORT} on every
 * address or on loopback, IPv4 and IPv6. Deno grants listening by exact
 * host and port; another address needs a build with it.
 */
export const METRICS_LISTEN: readonly string[] = [
  "0.0.0.0",
  "127.0.0.1",
  "[::]",
  "[::1]",
].map((host) => `${host}:${METRICS_PORT}`);

/** Network access: the Docker sockets, HAProxy's sockets, etcd and ACME servers, the metrics listener. */
const NET = [
  ...[...DOCKER_SOCKETS, ...HAPROXY_SOCKETS].map((path) => `unix:${path}`),
  ...DOCKER_TCP_HOSTS,
  ...ETCD_HOSTS,
  ...ACME_HOSTS,
  ...METRICS_LISTEN,
];

/** Where docker-balancer may write: the HAProxy configuration directory and its sockets' directory. */
export const HAPROXY_CONFIG_DIRS: readonly string[] = [
  "/etc/haproxy",
  HAPROXY_RUN_DIR,
];

/**
 * Where `--access-log FILE` may write without a build of its own: a
 * directory of docker-balancer's own under /var/log (logrotate's home).
 */
export const ACCESS_LOG_DIR = "/var/log/docker-balancer";

/**
 * The system's CA bundle, where distributions keep it (Debian and Ubuntu,
 * Fedora and RHEL, openSUSE, Alpine): the roots an ACME CA's TLS is checked
 * against without `--acme-ca-file`. Read as a file because Deno's own root
 * store needs `--allow-sys` in full.
 */
export const SYSTEM_CA_FILES: readonly string[] = [
  "/etc/ssl/certs/ca-certificates.crt",
  "/etc/pki/tls/certs/ca-bundle.crt",
  "/etc/ssl/ca-bundle.pem",
  "/etc/ssl/cert.pem",
];

/** Files and directories docker-balancer may read besides those it writes. */
export const BALANCER_READS: readonly string[] = [
  "/etc/docker-glue",
  // Where the docker CLI keeps TLS files for DOCKER_TLS_VERIFY as root.
  "/root/.docker",
  "/etc/default/haproxy",
  "/etc/sysconfig/haproxy",
  ...SYSTEM_CA_FILES,
];

/** Programs docker-balancer may run: HAProxy itself and the usual reload commands. */
export const BALANCER_PROGRAMS: readonly string[] = [
  "haproxy",
  "systemctl",
  "kill",
];

/** Permission flags of docker-balancer. */
export const BALANCER_PERMISSIONS: readonly string[] = [
  // npm's `debug` package (used by dockerode) lists every environment
  // variable when it loads, which needs read access to all of them.
  "--allow-env",
  `--allow-read=${
    [...DOCKER_SOCKETS, ...HAPROXY_CONFIG_DIRS, ...BALANCER_READS].join(",")
  }`,
  // Connecting to a unix socket needs read, write and net access to it.
  `--allow-write=${
    [...DOCKER_SOCKETS, ...HAPROXY_CONFIG_DIRS, ACCESS_LOG_DIR].join(",")
  }`,
  `--allow-net=${NET.join(",")}`,
  `--allow-run=${BALANCER_PROGRAMS.join(",")}`,
];

/**
 * Permission flags of docker-glue. Handler scripts are arbitrary executables
 * found in the script paths, and handler files are looked up relative to the
 * executable, so running and reading cannot be narrowed to a fixed list the
 * way docker-balancer's are. Writing, the network and the environment are as
 * narrow as the balancer's.
 */
export const GLUE_PERMISSIONS: readonly string[] = [
  "--allow-env",
  "--allow-read",
  // Its own user id: as root it refuses handler files others can change.
  "--allow-sys=uid",
  `--allow-write=${
    [...DOCKER_SOCKETS, ...HAPROXY_CONFIG_DIRS, ACCESS_LOG_DIR].join(",")
  }`,
  `--allow-net=${NET.join(",")}`,
  "--allow-run",
];

/**
 * One line for an operator when the binary lacks a permission: what was
 * denied and the flag to build a binary that has it.
 */
export function permissionHint(error: Deno.errors.NotCapable): string {
  const denied = (error.message.split(",")[0] ?? error.message).trim();
  const match =
    /^Requires (read|write|net|run|env|sys|ffi|import) access to "([^"]+)"/
      .exec(denied);
  const flag = match === null
    ? "--allow-..."
    : `--allow-${match[1]}=${match[2]?.replace(/^unix:/, "")}`;
  return `Missing permission: ${denied}. This binary runs with the permissions it was compiled with (docs/install.md, "Permissions"); build one that has it with: deno task compile ${flag}`;
}
