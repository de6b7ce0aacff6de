/**
 * The HAProxy handler: re-renders HAProxy's configuration when containers
 * come and go. docker-balancer runs the same service (lib/cli/service.ts)
 * built from its flags.
 *
 * INI params (all optional) mirror docker-balancer's flags: `template_dir`,
 * `template_file`, `config_file`, `rc`, `reload_cmd`, `haproxy_bin`,
 * `haproxy` (managed or external),
 * `network`, `per_port_frontends`, `include_env`, `http_bind`, `stats_bind`, `stats_socket`,
 * `tcp_bind_address`,
 * `debounce`, `check_timeout`, `hard_stop_after`, `trusted_proxies`,
 * `proxy_protocol`, `access_log`, `error_pages`, `dry_run`, and for containers published by other hosts'
 * agents `source=etcd` with `etcd_endpoints` and `etcd_prefix`, or
 * `source=swarm` for Swarm services' tasks on this node; `docker_urls`
 * (a comma list) adds other hosts' engines beside the agent's own, with
 * `docker_grace`.
 *
 * @module
 */

import { errorMessage } from "../lib/util/error_message.ts";
import { checkAccess } from "../lib/sources/etcd_access.ts";
import { type AgentContext, BaseHandler } from "../lib/agent/base_handler.ts";
import type { HandlerIni } from "../lib/agent/handler_ini.ts";
import {
  DEFAULT_ETCD_ENDPOINTS,
  DEFAULT_ETCD_PREFIX,
  parseEndpoints,
} from "../lib/sources/endpoints.ts";
import { parseBoolean } from "../lib/agent/handler_ini.ts";
import { NONE } from "../lib/docker/event_selector.ts";
import type { Balancer } from "../lib/haproxy/loop.ts";
import {
  acmeSettings,
  HAPROXY_DEFAULTS,
  parseCheckTimeout,
  parseHardStopAfter,
  parseMode,
  parseTrustedProxies,
} from "../lib/haproxy/settings.ts";
import { parseDebounce } from "../lib/util/debounce.ts";
import { parseAccessLog } from "../lib/haproxy/access_log.ts";
import {
  parseGrace,
  parseSourceKind,
  withRemotes,
} from "../lib/sources/wiring.ts";
import { otherEngines, splitUrls } from "../lib/docker/engine_url.ts";
import {
  BalancerService,
  type BalancerSettings,
  checkBalancerSettings,
} from "../lib/cli/service.ts";

/**
 * Reads a handler file's params into settings.
 *
 * @throws {TypeError} naming the param at fault.
 */
export function settingsFromParams(
  param: (name: string) => string | undefined,
): BalancerSettings {
  const named = <T>(name: string, parse: () => T): T => {
    try {
      return parse();
    } catch (error) {
      throw new TypeError(`[params] ${name}: ${errorMessage(error)}`);
    }
  };
  const flag = (name: string) => {
    const value = param(name);
    if (value === undefined || value === "") return false;
    return named(name, () => parseBoolean(value));
  };
  const or = (name: string, fallback: string) => param(name) ?? fallback;
  const source = named("source", () => parseSourceKind(or("source", "docker")));
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
      backendCaFile: param("backend_ca_file"),
      acme: named("acme_directory", () =>
        acmeSettings({
          directory: param("acme_directory"),
          email: param("acme_email"),
          caFile: param("acme_ca_file"),
          backoff: param("acme_backoff"),
          ordersPerHour: param("acme_orders_per_hour"),
          dnsHook: param("acme_dns_hook"),
          challenge: param("acme_challenge"),
        })),
      dryRun: flag("dry_run"),
      debounce: named(
        "debounce",
        () => parseDebounce(or("debounce", HAPROXY_DEFAULTS.debounce)),
      ),
      checkTimeoutMs: named(
        "check_timeout",
        () =>
          parseCheckTimeout(or("check_timeout", HAPROXY_DEFAULTS.checkTimeout)),
      ),
      trustedProxies: named(
        "trusted_proxies",
        () => parseTrustedProxies(or("trusted_proxies", "")),
      ),
      proxyProtocol: flag("proxy_protocol"),
      errorPages: param("error_pages"),
      accessLog: named(
        "access_log",
        () => parseAccessLog(or("access_log", "")),
      ),
      hardStopAfter: named(
        "hard_stop_after",
        () =>
          parseHardStopAfter(
            or("hard_stop_after", HAPROXY_DEFAULTS.hardStopAfter),
          ),
      ),
    },
    source: named("docker_urls", () =>
      withRemotes(
        source === "docker" || source === "swarm" ? { kind: source } : {
          kind: "etcd",
          endpoints: named(
            "etcd_endpoints",
            () => parseEndpoints(or("etcd_endpoints", DEFAULT_ETCD_ENDPOINTS)),
          ),
          prefix: or("etcd_prefix", DEFAULT_ETCD_PREFIX),
          access: checkAccess({
            caFile: param("etcd_cacert"),
            certFile: param("etcd_cert"),
            keyFile: param("etcd_key"),
            user: param("etcd_user"),
            passwordFile: param("etcd_password_file"),
          }, "[params] etcd_cert, etcd_key, etcd_user, etcd_password_file"),
        },
        // Beside the agent's own engine.
        otherEngines(splitUrls(param("docker_urls"))),
        named("docker_grace", () => parseGrace(or("docker_grace", "30s"))),
      )),
  };
}

/**
 * The HAProxy engine as a handler file configures it (docker-balancer
 * builds the same service from its flags). Renders on `none` at once and on
 * other events as they come; with an etcd or Swarm source, the source's own
 * changes trigger the renders.
 */
export class HAProxyHandler extends BaseHandler {
  #service: BalancerService | null = null;

  /** Creates the handler; its params are read at {@link HAProxyHandler.init}. */
  constructor(agent: AgentContext, iniFile: string, ini: HandlerIni) {
    super(agent, iniFile, ini);
  }

  /** Reads and checks the params, compiles the template, checks HAProxy and the config directory. */
  override async init(): Promise<void> {
    const settings = settingsFromParams((name) => this.param(name));
    this.#service = await BalancerService.create(
      checkBalancerSettings(settings),
      this.agent,
    );
  }

  /** The engine, once initialized. */
  get balancer(): Balancer {
    if (this.#service === null) {
      throw new Error("HAProxyHandler used before init()");
    }
    return this.#service.engine;
  }

  /** Opens the access log file again (SIGUSR1). */
  reopenLogs(): Promise<void> {
    return this.#service?.engine.reopenAccessLog() ?? Promise.resolve();
  }

  /** Hands the event to the service: `none` says the inventory was read whole. */
  async handle(event: string): Promise<void> {
    if (this.#service === null) {
      throw new Error("HAProxyHandler used before init()");
    }
    if (event === NONE) await this.#service.resynced();
    else this.#service.changed(event);
  }

  /** Waits for an update in progress; a scheduled one is dropped. */
  override async close(): Promise<void> {
    await this.#service?.close();
  }
}
