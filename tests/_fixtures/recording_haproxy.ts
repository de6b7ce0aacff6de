/**
 * An HAProxy that only records: the runtime commands it is sent (applied
 * to the servers and maps it keeps, and answered as HAProxy 2.6 answers
 * them), the files it would be given, and reloads (which load the last
 * file). The scale benchmark drives the real engine against it, so it
 * times the engine alone; property tests read what reached it.
 *
 * @module
 */

import { shapeOf } from "../../lib/haproxy/render/config_shape.ts";
import type { HAProxyProcess } from "../../lib/haproxy/io/process.ts";
import type { RuntimeApi, ServerState } from "../../lib/haproxy/io/runtime.ts";
import { RuntimeError } from "../../lib/haproxy/io/runtime.ts";
import { parseMapText } from "../../lib/haproxy/model/pool.ts";
import type { ApplyOutcome } from "../../lib/haproxy/io/apply.ts";
import type { ContainerSource } from "../../lib/docker/container.ts";
import { Balancer } from "../../lib/haproxy/loop.ts";
import {
  type ListenOptions,
  Renderer,
} from "../../lib/haproxy/render/render.ts";
import {
  DEFAULT_TEMPLATE_DIRS,
  DEFAULT_TEMPLATE_FILE,
} from "../../lib/haproxy/render/builtin_templates.ts";
import { mapFilesFor } from "../../lib/haproxy/settings.ts";

/** The engine as docker-balancer builds it with the host map, and the HAProxy it drives. */
export interface RecordedEngine {
  /** The engine, over the source it was given. */
  readonly engine: Balancer;
  /** What it sent HAProxy. */
  readonly haproxy: RecordingHAProxy;
  /** The host map file. */
  readonly hostMap: string;
}

/**
 * The real engine, with the built-in template and the host map, over
 * `source`, writing nothing: HAProxy is a {@link RecordingHAProxy} and the
 * configuration's path is `configFile`.
 */
export function recordedEngine(
  source: ContainerSource,
  configFile: string,
  listen: Pick<ListenOptions, "httpBind" | "statsBind" | "tcpBindAddress">,
): RecordedEngine {
  const haproxy = new RecordingHAProxy();
  const maps = mapFilesFor(configFile, {
    statsSocket: haproxy.path,
    https: false,
    acme: false,
  });
  const engine = new Balancer({
    routes: {},
    renderer: new Renderer(
      { dirs: DEFAULT_TEMPLATE_DIRS, file: DEFAULT_TEMPLATE_FILE },
      { ...listen, statsSocket: haproxy.path, maps },
    ),
    apply: {
      configFile,
      haproxyBin: "haproxy",
      checkArgs: [],
      reloadCmd: [],
    },
    dryRun: false,
    debounce: { quietMs: 0, maxMs: 0 },
    managed: haproxy,
    adminSocket: haproxy.path,
    runtimeApi: haproxy,
    install: haproxy.install,
    maps,
  }, source);
  return { engine, haproxy, hostMap: maps.http ?? "" };
}

/** The recording HAProxy. */
export class RecordingHAProxy implements RuntimeApi, HAProxyProcess {
  readonly path = "(recorder)";
  running = false;
  loadedText: string | null = null;
  onRestart: (() => void) | undefined;
  /** Commands received, in order. */
  readonly commands: string[] = [];
  /** Files installed, counted. */
  installs = 0;
  /** Reloads done. */
  reloads = 0;
  /** Servers by backend, then name: HAProxy answers for one backend without looking at the others. */
  #servers = new Map<string, Map<string, ServerState>>();
  #maps = new Map<string, Map<string, string>>();
  #text = "";
  #files: readonly { path: string; text: string }[] = [];

  /** Takes the files as an install would, without writing or checking them. */
  install = (
    text: string,
    files: readonly { path: string; text: string }[],
  ): Promise<ApplyOutcome> => {
    const same = text === this.#text &&
      files.every((file, i) => this.#files[i]?.text === file.text);
    this.#text = text;
    this.#files = files;
    if (same) return Promise.resolve("unchanged");
    this.installs++;
    return Promise.resolve("applied");
  };

  /** The last configuration installed. */
  get text(): string {
    return this.#text;
  }

  /** The files installed with it (maps, certificates). */
  get files(): readonly { path: string; text: string }[] {
    return this.#files;
  }

  /** Loads the last installed files, as a reload would. */
  reload(): Promise<void> {
    this.reloads++;
    this.running = true;
    this.loadedText = this.#text;
    this.#servers = new Map();
    for (const [backend, servers] of shapeOf(this.#text).servers) {
      for (const server of servers.values()) {
        this.#put({
          backend,
          name: server.name,
          address: server.address,
          port: server.port,
          weight: server.weight,
          opState: 2,
          adminState: 0,
        });
      }
    }
    this.#maps = new Map(
      this.#files.filter((file) => file.path.endsWith(".map")).map((
        file,
      ) => [file.path, new Map(parseMapText(file.text))]),
    );
    return Promise.resolve();
  }

  /** Nothing runs. */
  stop(): Promise<void> {
    this.running = false;
    return Promise.resolve();
  }

  /** Applies a command to the recorded state and answers as HAProxy does. */
  run(command: string, ok: RegExp = /^$/): Promise<void> {
    this.commands.push(command);
    const answer = this.#answer(command.split(" "));
    if (!ok.test(answer)) {
      return Promise.reject(
        new RuntimeError(`HAProxy refused "${command}": ${answer}`),
      );
    }
    return Promise.resolve();
  }

  #answer(words: string[]): string {
    const [verb, what, id = "", ...rest] = words;
    const [backend = "", name = ""] = id.split("/");
    if (verb === "add" && what === "server") {
      // HAProxy reads the port after the last colon, also for IPv6.
      const where = rest[0] ?? "";
      const colon = where.lastIndexOf(":");
      const weight = rest.indexOf("weight");
      this.#put({
        backend,
        name,
        address: where.slice(0, colon),
        port: Number(where.slice(colon + 1)),
        weight: weight < 0 ? 1 : Number(rest[weight + 1]),
        opState: 2,
        adminState: 0,
      });
      return "New server registered.";
    }
    if (verb === "del" && what === "server") {
      this.#servers.get(backend)?.delete(name);
      return "Server deleted.";
    }
    if (verb === "set" && what === "server") {
      const server = this.#servers.get(backend)?.get(name);
      if (server === undefined) return "No such server.";
      if (rest[0] === "weight") {
        this.#put({ ...server, weight: Number(rest[1]) });
      }
      if (rest[0] === "addr") {
        this.#put({
          ...server,
          address: rest[1] ?? "",
          port: Number(rest[3]),
        });
        return "IP changed";
      }
      return "";
    }
    if (what === "map") {
      const map = this.#maps.get(id) ?? new Map<string, string>();
      this.#maps.set(id, map);
      if (verb === "del") map.delete(rest[0] ?? "");
      else map.set(rest[0] ?? "", rest[1] ?? "");
      return "";
    }
    return "";
  }

  /** Every recorded server, of `backend` when given. */
  servers(backend?: string): Promise<ServerState[]> {
    const backends = backend === undefined
      ? [...this.#servers.values()]
      : [this.#servers.get(backend) ?? new Map()];
    return Promise.resolve(
      backends.flatMap((servers) => [...servers.values()]),
    );
  }

  #put(server: ServerState): void {
    let servers = this.#servers.get(server.backend);
    if (servers === undefined) {
      this.#servers.set(server.backend, servers = new Map());
    }
    servers.set(server.name, server);
  }

  /** A recorded map. */
  mapEntries(file: string): Promise<[string, string][]> {
    return Promise.resolve([...this.#maps.get(file) ?? []]);
  }

  /** One key of a recorded map. */
  mapEntry(file: string, key: string): Promise<string | null> {
    return Promise.resolve(this.#maps.get(file)?.get(key) ?? null);
  }

  /** No certificates in the benchmark. */
  crtListEntries(): Promise<string[]> {
    return Promise.resolve([]);
  }

  /** Not saved in the benchmark. */
  serversStateText(): Promise<string> {
    return Promise.resolve("");
  }
}
