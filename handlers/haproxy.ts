/**
 * The HAProxy handler: re-renders HAProxy's configuration when containers
 * come and go. docker-balancer is the agent with just this handler, its
 * params taken from flags.
 *
 * INI params (all optional) mirror docker-balancer's flags: `template_dir`,
 * `template_file`, `config_file`, `rc`, `reload_cmd`, `haproxy_bin`,
 * `network`, `include_env`, `http_bind`, `stats_bind`, `tcp_bind_address`,
 * `debounce`, `dry_run`.
 *
 * @module
 */

import { BaseHandler } from "../lib/agent/base_handler.ts";
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

/** Renders on `none` at once and on other events after the debounce window. */
export class HAProxyHandler extends BaseHandler {
  #balancer: HAProxyBalancer | null = null;

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
      dryRun: flag("dry_run"),
      debounce,
    };
  }

  /** Compiles the template and checks HAProxy and the config directory. */
  override async init(): Promise<void> {
    this.#balancer = await createBalancer(
      this.#settings(),
      () => this.agent.inventory.list(),
    );
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
    if (event === NONE) await this.balancer.update();
    else this.balancer.schedule();
  }

  /** Waits for an update in progress; a scheduled one is dropped. */
  override async close(): Promise<void> {
    await this.#balancer?.close();
  }
}
