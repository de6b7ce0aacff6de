/**
 * Where the HAProxy engine's containers come from: this host's Docker
 * inventory, this node's Swarm tasks, or the containers other hosts'
 * agents publish to etcd. One place builds each, for the daemon and for
 * `routes`.
 *
 * @module
 */

import type {
  ContainerRecord,
  ContainerSource,
  UnreadableRecord,
} from "../docker/container.ts";
import type { DockerClient } from "../docker/client.ts";
import type { Inventory } from "../docker/inventory.ts";
import { SwarmSource } from "./swarm.ts";
import type { Telemetry } from "../metrics/telemetry.ts";
import { SettingsError } from "../util/settings_error.ts";
import type { EtcdAccess } from "./etcd_access.ts";
import type { EngineAddress } from "../docker/engine_url.ts";
import { durationMs } from "../util/duration.ts";

/** How long the first read of other hosts' engines may hold up the first configuration. */
const ENGINES_FIRST_READ_MS = 5000;

/** Where the containers come from. */
export type SourceSettings =
  | {
    readonly kind: "docker";
    /** Other hosts' engines, followed beside this host's. */
    readonly remotes?: readonly EngineAddress[];
    /** How long a lost engine's containers stay routed. */
    readonly graceMs?: number;
  }
  | { readonly kind: "swarm" }
  | {
    readonly kind: "etcd";
    readonly endpoints: readonly string[];
    readonly prefix: string;
    /** TLS and user, when etcd asks for them. */
    readonly access: EtcdAccess;
  };

/**
 * Reads `--source` / `source=`.
 *
 * @throws {SettingsError} for another value.
 */
export function parseSourceKind(value: string): "docker" | "swarm" | "etcd" {
  if (value !== "docker" && value !== "etcd" && value !== "swarm") {
    throw new SettingsError(
      `Invalid source ${JSON.stringify(value)}: expected docker, swarm or etcd`,
    );
  }
  return value;
}

/**
 * Reads `--docker-grace` / `docker_grace`: `30s`, `2m` or whole seconds.
 *
 * @throws {SettingsError} for another form.
 */
export function parseGrace(value: string): number {
  const ms = /^[0-9]+$/.test(value) ? Number(value) * 1000 : durationMs(value);
  if (ms === null) {
    throw new SettingsError(
      `Invalid docker grace ${
        JSON.stringify(value)
      }: expected seconds, such as 30 or 30s`,
    );
  }
  return ms;
}

/**
 * The Docker source with the engines given beyond this host's.
 *
 * @throws {SettingsError} when other engines are given with another source.
 */
export function withRemotes(
  source: SourceSettings,
  remotes: readonly EngineAddress[],
  graceMs: number,
): SourceSettings {
  if (remotes.length === 0) return source;
  if (source.kind !== "docker") {
    throw new SettingsError(
      `Several Docker engines need the docker source, not ${source.kind}`,
    );
  }
  return { kind: "docker", remotes, graceMs };
}

function remotesOf(settings: SourceSettings): readonly EngineAddress[] {
  return settings.kind === "docker" ? settings.remotes ?? [] : [];
}

/** A source of containers that may need starting and a first read. */
export interface OpenSource {
  /** Which kind. */
  readonly kind: SourceSettings["kind"];
  /** The containers. */
  readonly containers: ContainerSource;
  /** Starts following its changes. */
  start(): void;
  /**
   * Resolves true once the first read is done, false after `ms`: routing
   * from a source not read yet would remove every route.
   */
  ready(ms: number): Promise<boolean>;
  /** Stops following. */
  close(): Promise<void>;
  /** What the operator is told when it is not ready in time. */
  readonly notReady: string;
}

/** What a source is built from. */
export interface SourceContext {
  /** Docker client. */
  readonly docker: DockerClient;
  /** This host's containers. */
  readonly inventory: Inventory;
  /** Where the source reports for metrics. */
  readonly telemetry?: Telemetry;
}

/**
 * Builds the source the settings name; `onChange` is called when its
 * containers change, with the Docker action when there is one (not for
 * this host's engine, whose events the agent dispatches).
 */
export async function openSource(
  settings: SourceSettings,
  context: SourceContext,
  onChange: (event?: string) => void,
): Promise<OpenSource> {
  if (settings.kind === "docker" && remotesOf(settings).length > 0) {
    const { EngineSet, DEFAULT_ENGINE_GRACE_MS } = await import(
      "./remote_engines.ts"
    );
    const engines = new EngineSet(
      context.inventory,
      settings.remotes ?? [],
      settings.graceMs ?? DEFAULT_ENGINE_GRACE_MS,
      onChange,
      context.telemetry,
    );
    return {
      kind: "docker",
      containers: engines,
      start: () => engines.start(),
      // This host's engine is read by the agent before `none`; the others
      // get a moment, and are routed when they answer.
      ready: async (ms) => {
        await engines.settled(Math.min(ms, ENGINES_FIRST_READ_MS));
        return true;
      },
      close: () => engines.close(),
      notReady: "",
    };
  }
  if (settings.kind === "docker") {
    return {
      kind: "docker",
      containers: context.inventory,
      start: () => {},
      ready: () => Promise.resolve(true),
      close: () => Promise.resolve(),
      notReady: "",
    };
  }
  if (settings.kind === "swarm") {
    const swarm = new SwarmSource(context.docker, context.inventory, onChange);
    return {
      kind: "swarm",
      containers: swarm,
      start: () => swarm.start(),
      ready: (ms) => swarm.ready(ms),
      close: () => swarm.close(),
      notReady: "Swarm services not readable (is this node a swarm manager?)",
    };
  }
  // Loaded only when used: a balancer fed by Docker needs none of it.
  const { EtcdSource } = await import("./etcd.ts");
  const { EtcdClient } = await import("./etcd_client.ts");
  const { readAccess } = await import("./etcd_access.ts");
  const etcd = new EtcdSource(
    new EtcdClient(settings.endpoints, await readAccess(settings.access)),
    settings.prefix,
    onChange,
    context.telemetry,
  );
  return {
    kind: "etcd",
    containers: etcd,
    start: () => etcd.start(),
    ready: (ms) => etcd.ready(ms),
    close: () => etcd.close(),
    notReady: `etcd at ${settings.endpoints.join(",")} not readable`,
  };
}

/** What a source held at one read. */
export interface SourceRead {
  /** The containers. */
  readonly containers: readonly ContainerRecord[];
  /** What it could not read as containers (bad etcd documents). */
  readonly unreadable: readonly UnreadableRecord[];
}

/**
 * Reads the source's containers once, as `routes` needs them: this host's
 * inventory, the Swarm services and gateway addresses, or etcd.
 *
 * @throws {Error} when the source cannot be read within `ms`.
 */
export async function readSourceOnce(
  settings: SourceSettings,
  context: SourceContext,
  ms: number,
): Promise<SourceRead> {
  if (settings.kind !== "etcd" && remotesOf(settings).length === 0) {
    await context.inventory.resync();
    const containers = settings.kind === "docker"
      ? context.inventory.list()
      : (await SwarmSource.once(context.docker, context.inventory)).list();
    return { containers, unreadable: [] };
  }
  const source = await openSource(settings, context, () => {});
  try {
    if (settings.kind === "docker") await context.inventory.resync();
    source.start();
    if (!(await source.ready(ms))) {
      throw new Error(`${source.notReady} within ${ms / 1000} s`);
    }
    return {
      containers: [...source.containers.list()],
      unreadable: source.containers.unreadable?.() ?? [],
    };
  } finally {
    await source.close();
  }
}
