/**
 * The narrowed view of a Docker container that the rest of the program works
 * with. Only the inspect fields routing and handlers need are kept, so pure
 * logic can be tested on plain data.
 *
 * @module
 */

/** Docker health state; `none` means the image defines no health check. */
export type HealthState = "none" | "starting" | "healthy" | "unhealthy";

/** A container port published on the host (`docker run -p`). */
export interface PublishedPort {
  /** Container side, as Docker keys it: `80/tcp`. */
  readonly port: string;
  /** Host address it is bound to (`0.0.0.0` for all). */
  readonly hostIp: string;
  /** Host port. */
  readonly hostPort: number;
}

/** Where a container runs, for records that came from a discovery service. */
export interface ContainerHost {
  /** The publishing agent's host id. */
  readonly id: string;
  /** Address other hosts reach this host's published ports on. */
  readonly advertiseAddress: string;
}

/** The inspect fields docker-glue uses, copied out of `docker inspect`. */
export interface ContainerRecord {
  /** Full container id. */
  readonly id: string;
  /** Name without Docker's leading slash. */
  readonly name: string;
  /** Creation time as Docker reports it (RFC 3339); used to break ties. */
  readonly created: string;
  /** Image the container was created from, as given (`nginx:1.25`). */
  readonly image: string;
  /** Container labels. */
  readonly labels: Readonly<Record<string, string>>;
  /** Environment variables, split at the first `=`. */
  readonly env: Readonly<Record<string, string>>;
  /** Exposed ports as Docker keys them, for example `80/tcp`. */
  readonly exposedPorts: readonly string[];
  /** Ports published on the host, in port order. */
  readonly publishedPorts: readonly PublishedPort[];
  /** Address on the default bridge (`NetworkSettings.IPAddress`), or "". */
  readonly ipAddress: string;
  /** IPv4 address on every attached network that has one, by network name. */
  readonly networks: Readonly<Record<string, string>>;
  /**
   * Global IPv6 address on every attached network that has one, by network
   * name; absent where no network has IPv6 (and in etcd documents).
   */
  readonly networks6?: Readonly<Record<string, string>>;
  /** True while the main process runs (paused containers included). */
  readonly running: boolean;
  /** True while the container is frozen by `docker pause`. */
  readonly paused: boolean;
  /** Health check state. */
  readonly health: HealthState;
  /** Restarts by the restart policy since the container was created. */
  readonly restartCount: number;
  /** When the current run started (RFC 3339), or "". */
  readonly startedAt: string;
  /**
   * Set once Docker reported a terminating signal (`docker stop`, `docker
   * kill`): the container is going, and gets no new requests.
   */
  readonly stopping?: boolean;
  /**
   * Seconds `docker stop` waits before it kills (`--stop-timeout`), when
   * the container sets it; Docker's default is 10.
   */
  readonly stopTimeout?: number;
  /** Set for records read from etcd: the host the container runs on. */
  readonly host?: ContainerHost;
}

/**
 * Where the HAProxy engine reads containers from: the Docker inventory of
 * this host, or what the agents of many hosts published to etcd.
 */
export interface ContainerSource {
  /** The containers as known now. */
  list(): readonly ContainerRecord[];
  /**
   * What the source holds but could not read as a container (an etcd
   * document with a bad field): not routed, and reported.
   */
  unreadable?(): readonly UnreadableRecord[];
  /**
   * A journal of the ids that change from now on, for a source that keeps
   * one: a consumer then looks at those containers only.
   */
  follow?(): ChangeJournal;
}

/** A record a source could not read, with where it is and what is wrong. */
export interface UnreadableRecord {
  /** Where the record is: an etcd key. */
  readonly where: string;
  /** The container id the record is for. */
  readonly id: string;
  /** The field at fault, such as `advertiseAddress`; "" for the whole record. */
  readonly field: string;
  /** What is wrong, in words. */
  readonly detail: string;
}

/**
 * A container's key among all sources: its id, and for a container of
 * another host (etcd, another engine) that host's id before it, so that
 * one host cannot take the place of another host's container by naming
 * the same id. Container ids hold no `/`.
 */
export function recordKey(container: ContainerRecord): string {
  return container.host === undefined
    ? container.id
    : `${container.host.id}/${container.id}`;
}

/** A consumer's cursor on the containers of a source that changed. */
export interface ChangeJournal {
  /**
   * The keys ({@link recordKey}) set or removed since the last call, or
   * null when any container may have changed (the first call, or after the
   * records were replaced whole): then compare them all.
   */
  take(): ReadonlySet<string> | null;
  /** The record of a container key as the source knows it now. */
  get(key: string): ContainerRecord | undefined;
  /** Stops the journal: the source no longer notes changes for it. */
  close(): void;
}

function asRecord(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === "object"
    ? value as Record<string, unknown>
    : {};
}

function asString(value: unknown): string {
  return typeof value === "string" ? value : "";
}

function stringMap(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, val] of Object.entries(asRecord(value))) {
    if (typeof val === "string") out[key] = val;
  }
  return out;
}

function parseEnv(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!Array.isArray(value)) return out;
  for (const entry of value) {
    if (typeof entry !== "string") continue;
    const eq = entry.indexOf("=");
    if (eq > 0) out[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return out;
}

function parsePublished(value: unknown): PublishedPort[] {
  const out: PublishedPort[] = [];
  for (const [port, bindings] of Object.entries(asRecord(value))) {
    if (!Array.isArray(bindings)) continue;
    for (const binding of bindings) {
      const b = asRecord(binding);
      const hostPort = Number(asString(b.HostPort));
      if (!Number.isInteger(hostPort) || hostPort <= 0) continue;
      out.push({ port, hostIp: asString(b.HostIp) || "0.0.0.0", hostPort });
    }
  }
  return out.sort((a, b) =>
    a.port < b.port ? -1 : a.port > b.port ? 1 : a.hostPort - b.hostPort
  );
}

/** Whether a status text is a health check state a container can be in. */
export function isHealthState(status: string): status is HealthState {
  return status === "starting" || status === "healthy" ||
    status === "unhealthy";
}

function parseHealth(state: Record<string, unknown>): HealthState {
  const status = asString(asRecord(state.Health).Status);
  return isHealthState(status) ? status : "none";
}

/** What Docker's container list says of one container, as far as routing depends on it. */
export interface ListedContainer {
  /** Container id. */
  readonly id: string;
  /** Container name, without the leading `/`. */
  readonly name: string;
  /** True while frozen by `docker pause`. */
  readonly paused: boolean;
  /** Health check state, read from the status text ("Up 5 minutes (healthy)"). */
  readonly health: HealthState;
  /** Container labels. */
  readonly labels: Readonly<Record<string, string>>;
  /** IPv4 address on every attached network that has one, by network name. */
  readonly networks: Readonly<Record<string, string>>;
}

/** Copies what routing depends on out of one entry of Docker's container list. */
export function narrowListed(entry: unknown): ListedContainer {
  const doc = asRecord(entry);
  const status = asString(doc.Status);
  const networks: Record<string, string> = {};
  const settings = asRecord(doc.NetworkSettings);
  for (const [name, net] of Object.entries(asRecord(settings.Networks))) {
    const ip = asString(asRecord(net).IPAddress);
    if (ip !== "") networks[name] = ip;
  }
  const names = Array.isArray(doc.Names) ? doc.Names : [];
  return {
    id: asString(doc.Id),
    name: asString(names[0]).replace(/^\//, ""),
    paused: doc.State === "paused",
    health: /\(healthy\)/.test(status)
      ? "healthy"
      : /\(unhealthy\)/.test(status)
      ? "unhealthy"
      : /\(health: starting\)/.test(status)
      ? "starting"
      : "none",
    labels: stringMap(doc.Labels),
    networks,
  };
}

function sameMap(
  a: Readonly<Record<string, string>>,
  b: Readonly<Record<string, string>>,
): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length &&
    keys.every((key) => a[key] === b[key]);
}

/**
 * How the inventory differs from Docker's list, in what routing depends on:
 * containers missing on either side, and for the others pause state,
 * health, labels and network addresses. One line per container; none when
 * they agree.
 */
export function driftOf(
  known: readonly ContainerRecord[],
  listed: readonly ListedContainer[],
): string[] {
  const byId = new Map(known.map((record) => [record.id, record]));
  const out: string[] = [];
  for (const entry of listed) {
    const record = byId.get(entry.id);
    byId.delete(entry.id);
    if (record === undefined) {
      out.push(`${entry.name}: running, not known`);
      continue;
    }
    const what = [
      record.paused !== entry.paused ? "pause state" : "",
      // A paused container's status says "(Paused)" and hides its health.
      !entry.paused && record.health !== entry.health ? "health" : "",
      !sameMap(record.labels, entry.labels) ? "labels" : "",
      !sameMap(record.networks, entry.networks) ? "networks" : "",
    ].filter(Boolean);
    if (what.length > 0) out.push(`${entry.name}: ${what.join(", ")}`);
  }
  for (const record of byId.values()) {
    out.push(`${record.name}: known, not running`);
  }
  return out;
}

/**
 * Copies what docker-glue needs out of a `docker inspect` document. Docker
 * leaves many of these fields null (a container with no labels has
 * `Labels: null`), so every field falls back to an empty value instead of
 * throwing.
 */
export function narrowInspect(inspect: unknown): ContainerRecord {
  const doc = asRecord(inspect);
  const config = asRecord(doc.Config);
  const state = asRecord(doc.State);
  const settings = asRecord(doc.NetworkSettings);
  const networks: Record<string, string> = {};
  const networks6: Record<string, string> = {};
  for (const [name, net] of Object.entries(asRecord(settings.Networks))) {
    const ip = asString(asRecord(net).IPAddress);
    if (ip !== "") networks[name] = ip;
    const ip6 = asString(asRecord(net).GlobalIPv6Address);
    if (ip6 !== "") networks6[name] = ip6;
  }
  return {
    id: asString(doc.Id),
    name: asString(doc.Name).replace(/^\//, ""),
    created: asString(doc.Created),
    image: asString(config.Image),
    labels: stringMap(config.Labels),
    env: parseEnv(config.Env),
    exposedPorts: Object.keys(asRecord(config.ExposedPorts)).sort(),
    publishedPorts: parsePublished(settings.Ports),
    ipAddress: asString(settings.IPAddress),
    networks,
    ...(Object.keys(networks6).length > 0 ? { networks6 } : {}),
    running: state.Running === true,
    paused: state.Paused === true,
    health: parseHealth(state),
    restartCount: typeof doc.RestartCount === "number" ? doc.RestartCount : 0,
    startedAt: asString(state.StartedAt),
    ...(typeof config.StopTimeout === "number" && config.StopTimeout >= 0
      ? { stopTimeout: config.StopTimeout }
      : {}),
  };
}

/**
 * Whether a container should receive traffic now: running, not paused, and
 * healthy if it has a health check.
 */
export function isServing(record: ContainerRecord): boolean {
  return record.running && !record.paused &&
    (record.health === "none" || record.health === "healthy");
}

/** Signals that end a process; the others (HUP, USR1, WINCH...) ask it to reload or rotate. */
const TERMINATING = new Set(["TERM", "KILL", "INT", "QUIT"]);
const SIGNAL_NUMBERS: Readonly<Record<string, string>> = {
  "2": "INT",
  "3": "QUIT",
  "9": "KILL",
  "15": "TERM",
};

/**
 * Whether the signal of a Docker `kill` event (`15`, `SIGTERM` or `TERM`)
 * ends the container's process.
 */
export function isTerminatingSignal(signal: string | undefined): boolean {
  if (signal === undefined) return false;
  const name = SIGNAL_NUMBERS[signal.trim()] ??
    signal.trim().toUpperCase().replace(/^SIG/, "");
  return TERMINATING.has(name);
}
