/**
 * The HAProxy handler: re-renders HAProxy's configuration when containers
 * come and go. docker-balancer is the agent with just this handler, its
 * params taken from flags.
 *
 * INI params (all optional) mirror docker-balancer's flags: `template_dir`,
 * `template_file`, `config_file`, `rc`, `reload_cmd`, `haproxy_bin`,
 * `haproxy` (managed or external),
 * `network`, `per_port_frontends`, `include_env`, `http_bind`, `stats_bind`, `stats_socket`,
 * `tcp_bind_address`,
 * `debounce`, `dry_run`, and for containers published by other hosts'
 * agents `source=etcd` with `etcd_endpoints` and `etcd_prefix`, or
 * `source=swarm` for Swarm services' tasks on this node.
 *
 * @module
 */

import { type AgentContext, BaseHandler } from "../lib/agent/base_handler.ts";
import type { HandlerIni } from "../lib/agent/handler_ini.ts";
import {
  DEFAULT_ETCD_ENDPOINTS,
  DEFAULT_ETCD_PREFIX,
  parseEndpoints,
} from "../lib/discovery/endpoints.ts";
import type { EtcdSource } from "../lib/discovery/etcd.ts";
import { NONE, parseBoolean } from "../lib/agent/handler_ini.ts";
import type { HAProxyBalancer } from "../lib/haproxy/engine.ts";
import {
  acmeSettings,
  createBalancer,
  HAPROXY_DEFAULTS,
  type HAProxySettings,
  parseMode,
} from "../lib/haproxy/setup.ts";
import { parseDebounce } from "../lib/util/debounce.ts";
import { SwarmSource } from "../lib/docker/swarm.ts";

/** Default `--watch-set`: the original's `die,start` plus what else changes routing. */
export const DEFAULT_WATCH_SET =
  "start,kill,die,stop,destroy,pause,unpause,health_status,rename,connect,disconnect";

/** Events after which a container must get no new requests at once, not after the debounce window. */
const URGENT = new Set(["kill", "pause"]);

/** How long `none` waits for the first read from etcd or of the Swarm services. */
const ETCD_READY_MS = 10_000;

/** Where the handler's containers come from. */
export type SourceSettings =
  | { readonly kind: "docker" }
  | { readonly kind: "swarm" }
  | {
    readonly kind: "etcd";
    readonly endpoints: readonly string[];
    readonly prefix: string;
  };

/** Everything the HAProxy handler needs, typed: from INI params or from docker-balancer's flags. */
export interface HAProxyHandlerSettings {
  /** The engine's settings. */
  readonly haproxy: HAProxySettings;
  /** Where containers come from. */
  readonly source: SourceSettings;
}

/**
 * Reads a handler file's params into settings.
 *
 * @throws {TypeError} naming the param at fault.
 */
export function settingsFromParams(
  param: (name: string) => string | undefined,
): HAProxyHandlerSettings {
  const named = <T>(name: string, parse: () => T): T => {
    try {
      return parse();
    } catch (error) {
      throw new TypeError(`[params] ${name}: ${(error as Error).message}`);
    }
  };
  const flag = (name: string) => {
    const value = param(name);
    if (value === undefined || value === "") return false;
    return named(name, () => parseBoolean(value));
  };
  const or = (name: string, fallback: string) => param(name) ?? fallback;
  const source = or("source", "docker");
  if (source !== "docker" && source !== "etcd" && source !== "swarm") {
    throw new TypeError(
      `[params] source: expected docker, swarm or etcd, got ${
        JSON.stringify(source)
      }`,
    );
  }
  return {
    haproxy: {
      templateDir: param("template_dir"),
      templateFile: param("template_file"),
      configFile: or("config_file", HAPROXY_DEFAULTS.configFile),
      rc: param("rc"),
      mode: named(
        "haproxy",
        () => parseMode(param("haproxy"), param("reload_cmd") !== undefined),
      ),
      reloadCmd: or("reload_cmd", HAPROXY_DEFAULTS.reloadCmd),
      haproxyBin: or("haproxy_bin", HAPROXY_DEFAULTS.haproxyBin),
      network: param("network"),
      perPortFrontends: flag("per_port_frontends"),
      includeEnv: flag("include_env"),
      httpBind: or("http_bind", HAPROXY_DEFAULTS.httpBind),
      statsBind: or("stats_bind", HAPROXY_DEFAULTS.statsBind),
      tcpBindAddress: or("tcp_bind_address", HAPROXY_DEFAULTS.tcpBindAddress),
      statsSocket: or("stats_socket", HAPROXY_DEFAULTS.statsSocket),
      httpsBind: param("https_bind"),
      tlsCertDir: param("tls_cert_dir"),
      acme: named("acme_directory", () =>
        acmeSettings({
          directory: param("acme_directory"),
          email: param("acme_email"),
          caFile: param("acme_ca_file"),
          backoff: param("acme_backoff"),
        })),
      dryRun: flag("dry_run"),
      debounce: named(
        "debounce",
        () => parseDebounce(or("debounce", HAPROXY_DEFAULTS.debounce)),
      ),
    },
    source: source === "docker" || source === "swarm" ? { kind: source } : {
      kind: "etcd",
      endpoints: named(
        "etcd_endpoints",
        () => parseEndpoints(or("etcd_endpoints", DEFAULT_ETCD_ENDPOINTS)),
      ),
      prefix: or("etcd_prefix", DEFAULT_ETCD_PREFIX),
    },
  };
}

/**
 * Renders on `none` at once and on other events as they come (bursts are
 * coalesced). With an etcd source the containers come from etcd instead of
 * the local engine, and etcd changes trigger the renders.
 */
export class HAProxyHandler extends BaseHandler {
  #balancer: HAProxyBalancer | null = null;
  #etcd: EtcdSource | null = null;
  #swarm: SwarmSource | null = null;
  readonly #given: HAProxyHandlerSettings | undefined;

  /**
   * Creates the handler. docker-balancer passes `settings` made from its
   * flags; a handler file's params are read at {@link HAProxyHandler.init}.
   */
  constructor(
    agent: AgentContext,
    iniFile: string,
    ini: HandlerIni,
    settings?: HAProxyHandlerSettings,
  ) {
    super(agent, iniFile, ini);
    this.#given = settings;
  }

  /** Compiles the template and checks HAProxy and the config directory. */
  override async init(): Promise<void> {
    const settings = this.#given ??
      settingsFromParams((name) => this.param(name));
    const source = settings.source;
    let etcd: EtcdSource | null = null;
    if (source.kind === "etcd") {
      // Loaded only when used: a balancer fed by Docker needs none of it.
      const { EtcdSource } = await import("../lib/discovery/etcd.ts");
      etcd = new EtcdSource(
        source.endpoints,
        source.prefix,
        () => this.#balancer?.schedule(),
        this.agent.telemetry,
      );
    }
    const swarm = source.kind === "swarm"
      ? new SwarmSource(
        this.agent.docker,
        this.agent.inventory,
        () => this.#balancer?.schedule(),
      )
      : null;
    this.#balancer = await createBalancer(
      settings.haproxy,
      etcd ?? swarm ?? this.agent.inventory,
      this.agent.telemetry,
    );
    this.#etcd = etcd;
    this.#swarm = swarm;
    etcd?.start();
    swarm?.start();
  }

  /** The engine, once initialized. */
  get balancer(): HAProxyBalancer {
    if (this.#balancer === null) {
      throw new Error("HAProxyHandler used before init()");
    }
    return this.#balancer;
  }

  /** Updates at once on `none`; otherwise lets the debounce window collect the burst. */
  async handle(event: string): Promise<void> {
    if (this.#etcd !== null) {
      // Docker events of this host say nothing about etcd; etcd's own
      // changes schedule renders. Never render before the first read: an
      // empty list would remove every route.
      if (event !== NONE) return;
      if (!(await this.#etcd.ready(ETCD_READY_MS))) {
        throw new Error(
          `etcd not readable within ${
            ETCD_READY_MS / 1000
          } s; kept the running configuration`,
        );
      }
    }
    if (
      event === NONE && this.#swarm !== null &&
      !(await this.#swarm.ready(ETCD_READY_MS))
    ) {
      // Without the services' labels every task would lose its route.
      throw new Error(
        `Swarm services not readable within ${
          ETCD_READY_MS / 1000
        } s (is this node a swarm manager?); kept the running configuration`,
      );
    }
    if (event === NONE) await this.balancer.update();
    else if (URGENT.has(event)) this.balancer.urgent();
    else this.balancer.schedule();
  }

  /** Waits for an update in progress; a scheduled one is dropped. */
  override async close(): Promise<void> {
    await this.#balancer?.close();
    await this.#etcd?.close();
    await this.#swarm?.close();
  }
}
