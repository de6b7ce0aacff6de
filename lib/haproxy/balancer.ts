/**
 * The HAProxy engine shared by docker-balancer and docker-glue's HAProxy
 * handler: containers -> routes -> render -> validate, install, reload.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { type ContainerRecord, isServing } from "../docker/container.ts";
import { Debouncer, type DebounceTiming } from "../util/debounce.ts";
import {
  applyConfig,
  type ApplyOptions,
  ConfigRejectedError,
  reload,
  ReloadError,
} from "./apply.ts";
import { type Renderer, TemplateError } from "./render.ts";
import { damping } from "./damping.ts";
import { ReportedError } from "../agent/agent.ts";
import {
  buildRoutes,
  type Finding,
  type HttpRoute,
  type RouteOptions,
  type RouteTable,
  type TcpRoute,
} from "./routes.ts";

const log = getLogger(["docker-glue", "haproxy"]);

/** Everything the engine needs besides the containers. */
export interface BalancerOptions {
  /** Route model options. */
  readonly routes: RouteOptions;
  /** Compiled template. */
  readonly renderer: Renderer;
  /** Where and how to install. */
  readonly apply: ApplyOptions;
  /** Print the configuration instead of installing it. */
  readonly dryRun: boolean;
  /** Burst coalescing for {@link HAProxyBalancer.schedule}. */
  readonly debounce: DebounceTiming;
  /** Where dry-run output goes; standard output by default. */
  readonly print?: (text: string) => void;
}

/** Counters an operator or a test can read. */
export interface BalancerStats {
  /** Renders done. */
  renders: number;
  /** Configurations installed. */
  installs: number;
  /** Successful reloads. */
  reloads: number;
  /** Configurations HAProxy rejected. */
  rejections: number;
}

interface Placement {
  readonly container: string;
  readonly containerId: string;
  readonly where: string;
  readonly target: string;
}

function placements(table: RouteTable): Map<string, Placement> {
  const out = new Map<string, Placement>();
  const all: [string, HttpRoute | TcpRoute][] = [
    ...table.routes.map((route): [string, HttpRoute] => [
      `${route.host || "(default host)"}${route.prefix || "/"}${
        route.stripPrefix ? " (prefix stripped)" : ""
      }`,
      route,
    ]),
    ...table.tcpRoutes.map((route): [string, TcpRoute] => [
      `TCP port ${route.listen}`,
      route,
    ]),
  ];
  for (const [where, route] of all) {
    for (const server of route.servers) {
      out.set(`${server.containerId}\n${route.backend}\n${server.name}`, {
        container: server.containerName,
        containerId: server.containerId,
        where,
        target: `${server.address}:${server.port} weight ${server.weight}`,
      });
    }
  }
  return out;
}

function findingKey(finding: Finding): string {
  return `${finding.containerId}\n${finding.label ?? ""}\n${finding.message}`;
}

/** Renders and installs HAProxy configurations from a container source. */
export class HAProxyBalancer {
  /** Counters since start. */
  readonly stats: BalancerStats = {
    renders: 0,
    installs: 0,
    reloads: 0,
    rejections: 0,
  };
  readonly #options: BalancerOptions;
  readonly #source: () => readonly ContainerRecord[];
  readonly #debouncer: Debouncer;
  #placed = new Map<string, Placement>();
  #reported = new Set<string>();
  #lastPrinted: string | null = null;
  #reloadPending = false;
  #queue: Promise<void> = Promise.resolve();
  #damped = new Set<string>();
  #recheck: ReturnType<typeof setTimeout> | undefined;

  /** Creates the engine; `source` returns the current containers. */
  constructor(
    options: BalancerOptions,
    source: () => readonly ContainerRecord[],
  ) {
    this.#options = options;
    this.#source = source;
    this.#debouncer = new Debouncer(
      () => this.update().catch(() => {}),
      options.debounce,
    );
  }

  /** Asks for an update after the debounce window. */
  schedule(): void {
    if (this.#options.debounce.quietMs === 0) {
      this.update().catch(() => {});
    } else {
      this.#debouncer.trigger();
    }
  }

  /** Runs a scheduled update now, if any, and waits for updates in progress. */
  async flush(): Promise<void> {
    await this.#debouncer.flush();
    await this.#queue;
  }

  /** Drops a scheduled update and waits for one in progress. */
  async close(): Promise<void> {
    clearTimeout(this.#recheck);
    this.#recheck = undefined;
    await this.#debouncer.stop();
    await this.#queue;
  }

  /**
   * Renders the current containers and installs the result. Updates never
   * overlap; each one starts from the inventory as it is when it runs.
   *
   * @throws {ReportedError} when the template fails, HAProxy rejects the
   * configuration or the reload command fails; the details are logged.
   */
  update(): Promise<void> {
    const run = this.#queue.then(() => this.#update());
    this.#queue = run.catch(() => {});
    return run;
  }

  async #update(): Promise<void> {
    const all = this.#source();
    const containers = this.#damp(all);
    const table = buildRoutes(containers, this.#options.routes);
    this.#report(table.findings);
    this.#logPlacements(table, all);
    log.debug("Route table: {routes}", {
      routes: [...table.routes, ...table.tcpRoutes].map((route) =>
        `${route.backend}=[${
          route.servers.map((s) => `${s.address}:${s.port}/${s.weight}`).join(
            " ",
          )
        }]`
      ).join(" "),
    });
    let text: string;
    try {
      text = this.#options.renderer.render(table);
    } catch (error) {
      if (!(error instanceof TemplateError)) throw error;
      log.error("{message}; kept the running configuration", {
        message: error.message,
      });
      throw new ReportedError(error.message);
    }
    this.stats.renders++;
    if (this.#options.dryRun) {
      if (text !== this.#lastPrinted) {
        (this.#options.print ?? ((out) => console.log(out)))(text);
        this.#lastPrinted = text;
      }
      return;
    }
    const routes = [...table.routes, ...table.tcpRoutes];
    const servers = routes.reduce((n, r) => n + r.servers.length, 0);
    try {
      const outcome = await applyConfig(text, {
        ...this.#options.apply,
        // A reload that failed earlier is retried below, not here.
        reloadCmd: [],
      });
      if (outcome === "applied") {
        this.stats.installs++;
        this.#reloadPending = true;
        log.info("Installed {file}: {routes} routes, {servers} servers", {
          file: this.#options.apply.configFile,
          routes: routes.length,
          servers,
        });
      } else {
        log.debug("Configuration unchanged; nothing to install");
      }
      if (this.#reloadPending && this.#options.apply.reloadCmd.length > 0) {
        await reload(this.#options.apply.reloadCmd);
        this.stats.reloads++;
        log.info("Reloaded HAProxy with {cmd}", {
          cmd: this.#options.apply.reloadCmd.join(" "),
        });
      }
      this.#reloadPending = false;
    } catch (error) {
      if (error instanceof ConfigRejectedError) {
        this.stats.rejections++;
        log.error("{message}", { message: error.message });
        for (const line of error.details) {
          log.error("haproxy: {line}", { line });
        }
      } else if (error instanceof ReloadError) {
        log.error("{message}; will retry on the next change", {
          message: error.message,
        });
      } else {
        throw error;
      }
      throw new ReportedError(error.message);
    }
  }

  /**
   * Leaves out containers caught in a restart loop, logs each once, and
   * looks again when the first of them has run long enough.
   */
  #damp(containers: readonly ContainerRecord[]): ContainerRecord[] {
    const { damped, recheckAt } = damping(containers, Date.now());
    for (const container of containers) {
      if (damped.has(container.id) && !this.#damped.has(container.id)) {
        log.info(
          "Container {container}: damped, not routed while its restart policy keeps restarting it ({count} restarts); routed once it has run for 30 s",
          { container: container.name, count: container.restartCount },
        );
      }
    }
    this.#damped = new Set(damped);
    clearTimeout(this.#recheck);
    this.#recheck = undefined;
    if (recheckAt !== undefined) {
      this.#recheck = setTimeout(() => {
        this.#recheck = undefined;
        this.schedule();
      }, Math.max(0, recheckAt - Date.now()) + 50);
    }
    return containers.filter((c) => !damped.has(c.id));
  }

  /** Logs each finding once while it lasts, so a bad label warns once, not on every render. */
  #report(findings: readonly Finding[]): void {
    const current = new Set<string>();
    for (const finding of findings) {
      const key = findingKey(finding);
      current.add(key);
      if (this.#reported.has(key)) continue;
      const props = {
        container: finding.container,
        label: finding.label ?? "",
        message: finding.message,
      };
      if (finding.severity === "warning") {
        if (finding.label !== undefined) {
          log.warn("Container {container}: label {label}: {message}", props);
        } else log.warn("Container {container}: {message}", props);
      } else log.info("Container {container}: {message}", props);
    }
    this.#reported = current;
  }

  /** Logs one line per server that appeared, moved or went, with the reason. */
  #logPlacements(
    table: RouteTable,
    containers: readonly ContainerRecord[],
  ): void {
    const next = placements(table);
    const byId = new Map(containers.map((c) => [c.id, c]));
    for (const [key, placed] of next) {
      const before = this.#placed.get(key);
      if (before === undefined) {
        log.info("Container {container}: routed {where} -> {target}", {
          ...placed,
        });
      } else if (before.target !== placed.target) {
        log.info("Container {container}: rerouted {where} -> {target}", {
          ...placed,
        });
      }
    }
    for (const [key, placed] of this.#placed) {
      if (next.has(key)) continue;
      const container = byId.get(placed.containerId);
      const reason = container === undefined
        ? "not running"
        : this.#damped.has(container.id)
        ? "damped: restarting"
        : !isServing(container)
        ? (container.paused ? "paused" : `health ${container.health}`)
        : "labels changed or rejected";
      log.info("Container {container}: unrouted {where} ({reason})", {
        ...placed,
        reason,
      });
    }
    this.#placed = next;
  }
}
