/**
 * The HAProxy handler: re-renders HAProxy's configuration when containers
 * come and go. docker-balancer is the agent with just this handler, its
 * params taken from flags.
 *
 * INI params (all optional) mirror docker-balancer's flags: `template_dir`,
 * `template_file`, `config_file`, `rc`, `reload_cmd`, `haproxy_bin`,
 * `network`, `include_env`, `http_bind`, `stats_bind`, `stats_socket`,
 * `tcp_bind_address`,
 * `debounce`, `dry_run`, and for containers published by other hosts'
 * agents `source=etcd` with `etcd_endpoints` and `etcd_prefix`.
 *
 * @module
 */

import { BaseHandler } from "../lib/agent/base_handler.ts";
import {
  DEFAULT_ETCD_ENDPOINTS,
  DEFAULT_ETCD_PREFIX,
  parseEndpoints,
} from "../lib/discovery/endpoints.ts";
import type { EtcdSource } from "../lib/discovery/etcd.ts";
import { NONE, parseBoolean } from "../lib/agent/handler_ini.ts";
import type { HAProxyBalancer } from "../lib/haproxy/balancer.ts";
import {
  createBalancer,
  HAPROXY_DEFAULTS,
  type HAProxySettings,
} from "../lib/haproxy/setup.ts";
import { parseDebounce } from "../lib/util/debounce.ts";

/** Default `--watch-set`: the original's `die,start` plus what else changes routing. */
export const DEFAULT_WATCH_SET =
  "start,die,stop,destroy,pause,unpause,health_status,rename";

/** How long `none` waits for the first read from etcd. */
const ETCD_READY_MS = 10_000;

/**
 * Renders on `none` at once and on other events after the debounce window.
 * With `source=etcd` the containers come from etcd instead of the local
 * engine, and etcd changes trigger the renders.
 */
export class HAProxyHandler extends BaseHandler {
  #balancer: HAProxyBalancer | null = null;
  #etcd: EtcdSource | null = null;

  /** Reads the params into settings; fails on a bad value. */
  #settings(): HAProxySettings {
    const flag = (name: string) => {
      const value = this.param(name);
      if (value === undefined || value === "") return false;
      try {
        return parseBoolean(value);
      } catch (error) {
        throw new TypeError(`[params] ${name}: ${(error as Error).message}`);
      }
    };
    let debounce;
    try {
      debounce = parseDebounce(
        this.param("debounce", HAPROXY_DEFAULTS.debounce),
      );
    } catch (error) {
      throw new TypeError(`[params] debounce: ${(error as Error).message}`);
    }
    return {
      templateDir: this.param("template_dir"),
      templateFile: this.param("template_file"),
      configFile: this.param("config_file", HAPROXY_DEFAULTS.configFile),
      rc: this.param("rc"),
      reloadCmd: this.param("reload_cmd", HAPROXY_DEFAULTS.reloadCmd),
      haproxyBin: this.param("haproxy_bin", HAPROXY_DEFAULTS.haproxyBin),
      network: this.param("network"),
      includeEnv: flag("include_env"),
      httpBind: this.param("http_bind", HAPROXY_DEFAULTS.httpBind),
      statsBind: this.param("stats_bind", HAPROXY_DEFAULTS.statsBind),
      tcpBindAddress: this.param(
        "tcp_bind_address",
        HAPROXY_DEFAULTS.tcpBindAddress,
      ),
      statsSocket: this.param("stats_socket", HAPROXY_DEFAULTS.statsSocket),
      dryRun: flag("dry_run"),
      debounce,
    };
  }

  /** Compiles the template and checks HAProxy and the config directory. */
  override async init(): Promise<void> {
    const source = this.param("source", "docker");
    if (source !== "docker" && source !== "etcd") {
      throw new TypeError(
        `[params] source: expected docker or etcd, got ${
          JSON.stringify(source)
        }`,
      );
    }
    let etcd: EtcdSource | null = null;
    if (source === "etcd") {
      // Loaded only when used: a balancer fed by Docker needs none of it.
      const { EtcdSource } = await import("../lib/discovery/etcd.ts");
      etcd = new EtcdSource(
        parseEndpoints(this.param("etcd_endpoints", DEFAULT_ETCD_ENDPOINTS)),
        this.param("etcd_prefix", DEFAULT_ETCD_PREFIX),
        () => this.#balancer?.schedule(),
      );
    }
    this.#balancer = await createBalancer(
      this.#settings(),
      etcd === null ? () => this.agent.inventory.list() : () => etcd.list(),
    );
    this.#etcd = etcd;
    etcd?.start();
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
    if (event === NONE) await this.balancer.update();
    else this.balancer.schedule();
  }

  /** Waits for an update in progress; a scheduled one is dropped. */
  override async close(): Promise<void> {
    await this.#balancer?.close();
    await this.#etcd?.close();
  }
}
