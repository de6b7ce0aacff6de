/**
 * The HAProxy engine shared by docker-balancer and docker-glue's HAProxy
 * handler: containers -> routes -> render -> validate, install, reload.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import {
  type ContainerRecord,
  type ContainerSource,
  isServing,
} from "../docker/container.ts";
import { Debouncer, type DebounceTiming } from "../util/debounce.ts";
import {
  applyConfig,
  type ApplyOptions,
  checkConfig,
  ConfigRejectedError,
  keepForeignConfig,
  readOrNull,
  reload,
  writeAtomically,
} from "./apply.ts";
import {
  type CertFile,
  commandsFor,
  type HostMap,
  type MapChange,
  planChange,
  type RuntimeOp,
  templateFit,
} from "./plan.ts";
import {
  assignPool,
  EMPTY_POOL,
  type HostMaps,
  mapText,
  parseMapText,
  type PoolAssignment,
  seedPool,
} from "./pool.ts";
import type { Preview } from "./preview.ts";
import { countByReason, unroutedOf } from "./report.ts";
import {
  type ApplyMethod,
  NO_TELEMETRY,
  type Telemetry,
} from "../metrics/telemetry.ts";
import type { MapFiles, RenderInput } from "./render.ts";
import {
  crtListText,
  pruneLiveFiles,
  type ServedCerts,
  servedCerts,
  type TlsFiles,
  writeLiveFiles,
} from "./tls.ts";
import type { ManagedHAProxy } from "./process.ts";
import type { AcmeManager } from "../acme/manager.ts";
import { AdminSocket, RuntimeError } from "./runtime.ts";
import { backoff } from "../util/sleep.ts";
import { HAPROXY_SOCKETS } from "../permissions.ts";
import { type Renderer, TemplateError } from "./render.ts";
import { damping } from "./damping.ts";
import { ReportedError } from "../util/reported_error.ts";
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
  /**
   * With `dryRun`: validate the rendering and keep what it would change
   * ({@link HAProxyBalancer.preview}) instead of printing it.
   */
  readonly preview?: boolean;
  /** Burst coalescing for {@link HAProxyBalancer.schedule}. */
  readonly debounce: DebounceTiming;
  /** Where the engine reports for metrics; none by default. */
  readonly telemetry?: Telemetry;
  /** Where dry-run output goes; standard output by default. */
  readonly print?: (text: string) => void;
  /**
   * Who runs HAProxy: a {@link ManagedHAProxy} started and reloaded by us,
   * or an external one reloaded with `apply.reloadCmd`.
   */
  readonly managed?: ManagedHAProxy;
  /** HAProxy's admin socket, for changes without a reload; absent: reloads only. */
  readonly adminSocket?: string;
  /**
   * The map files the template reads. With `http`, plain host names are
   * routed through host maps to pool backends, so new hosts need no
   * reload; absent: no pool, no maps.
   */
  readonly maps?: Partial<MapFiles>;
  /** The HTTPS frontend's certificates; absent: no HTTPS. */
  readonly tls?: TlsFiles;
  /** ACME HTTP-01 tokens HAProxy answers with (`maps.acme`). */
  readonly challenges?: { entries(): HostMap };
  /** Told the hosts of routes labelled `tls` after every update, to get them certificates. */
  readonly acme?: AcmeManager;
  /** Where server states are saved before a reload (the template's `server-state-file`). */
  readonly stateFile?: string;
  /**
   * A single run (`-1`): a file that already holds the rendering is taken
   * as what HAProxy runs, and nothing is reloaded. Following events, the
   * first apply always makes HAProxy run the file, in case an earlier
   * reload failed.
   */
  readonly once?: boolean;
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
  /** Changes applied through the runtime API, without a reload. */
  runtimeUpdates: number;
  /** Runtime changes that failed and fell back to a reload. */
  runtimeFallbacks: number;
}

/** Retry of a failed apply: 500 ms doubling up to 30 s. */
const RETRY_BASE_MS = 500;
const RETRY_MAX_MS = 30_000;

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
        route.settings.stripPrefix ? " (prefix stripped)" : ""
      }${route.settings.tls ? " (and HTTPS)" : ""}`,
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

/** What HAProxy reads besides the configuration: maps and certificates. */
interface Companions {
  /** Map files and their entries. */
  readonly maps: readonly { file: string; entries: HostMap }[];
  /** The HTTPS frontend's certificates, or null without HTTPS. */
  readonly certs: ServedCerts | null;
}

/** Every certificate file of an update, the default first, and a key naming the set. */
function certFiles(
  companions: Companions,
): { certs: CertFile[]; key: string } | null {
  if (companions.certs === null) return null;
  const certs = [companions.certs.defaultCert, ...companions.certs.certs];
  return { certs, key: certs.map((cert) => cert.path).join("\n") };
}

/** The companion files' paths and texts, for installing with the configuration. */
function companionFiles(
  companions: Companions,
  tls: TlsFiles | undefined,
): { path: string; text: string }[] {
  return [
    ...companions.maps.map(({ file, entries }) => ({
      path: file,
      text: mapText(entries),
    })),
    ...(tls === undefined || companions.certs === null ? [] : [{
      path: tls.crtList,
      text: crtListText(companions.certs.certs),
    }]),
  ];
}

/** Runtime operations in a few words, for the log: "1 server added, 2 map entries set". */
function summarize(ops: readonly RuntimeOp[]): string {
  const counts = new Map<string, number>();
  for (const op of ops) {
    const what = op.op === "map"
      ? `map entr* ${op.value === null ? "removed" : "set"}`
      : op.op === "cert-add"
      ? "certificate* added"
      : op.op === "cert-remove"
      ? "certificate* removed"
      : `server* ${
        {
          add: "added",
          remove: "removed",
          weight: "reweighted",
          address: "moved",
        }[op.op]
      }`;
    counts.set(what, (counts.get(what) ?? 0) + 1);
  }
  return [...counts].map(([what, n]) =>
    `${n} ${
      what.replace("entr*", n === 1 ? "entry" : "entries").replace(
        "*",
        n === 1 ? "" : "s",
      )
    }`
  ).join(", ");
}

function findingKey(finding: Finding): string {
  return `${finding.containerId}\n${finding.label ?? ""}\n${finding.message}`;
}

/** Renders and installs HAProxy configurations from a container source. */
export class HAProxyBalancer {
  /** What the last update would change, with `preview` (`--diff`). */
  preview: Preview | null = null;
  /** Counters since start. */
  readonly stats: BalancerStats = {
    renders: 0,
    installs: 0,
    reloads: 0,
    rejections: 0,
    runtimeUpdates: 0,
    runtimeFallbacks: 0,
  };
  readonly #options: BalancerOptions;
  readonly #source: ContainerSource;
  readonly #debouncer: Debouncer;
  readonly #telemetry: Telemetry;
  #placed = new Map<string, Placement>();
  #reported = new Set<string>();
  #lastPrinted: string | null = null;
  #queue: Promise<void> = Promise.resolve();
  #damped = new Set<string>();
  #recheck: ReturnType<typeof setTimeout> | undefined;
  /** The configuration HAProxy runs, when known. */
  #running: string | null = null;
  #admin: AdminSocket | null;
  /** False after a runtime change failed half-way: HAProxy's server states are then not saved. */
  #statesTrusted = true;
  #checkedForeign = false;
  #retry: ReturnType<typeof setTimeout> | undefined;
  #attempt = 0;
  /** Size of the table being applied, for the log. */
  #size = { routes: 0, servers: 0 };
  /** Which pool backend serves which plain host (pool.ts). */
  #pool: PoolAssignment = EMPTY_POOL;
  /** The map files HAProxy runs, by file. */
  #runningMaps = new Map<string, HostMap>();
  /** The crt-list's certificates HAProxy runs. */
  #runningCerts: readonly CertFile[] = [];
  /** The certificate files kept at the last clean-up of the certificate directory. */
  #prunedFor = "";
  /** The certificate files last written (see #writeCerts). */
  #certsWritten = "";
  #lastTrigger = -Infinity;
  #burstStart = -Infinity;
  /** The next update is the first of a burst, and is applied whatever it needs. */
  #leading = false;
  #urgent = false;
  #lastReload = -Infinity;
  /** A reload waiting for the burst to settle. */
  #deferred: ReturnType<typeof setTimeout> | undefined;
  /** Closed: nothing more runs, writes or reloads. */
  #closed = false;

  /** Creates the engine; `source` has the current containers. */
  constructor(options: BalancerOptions, source: ContainerSource) {
    this.#options = options;
    this.#source = source;
    this.#telemetry = options.telemetry ?? NO_TELEMETRY;
    this.#admin = options.adminSocket
      ? new AdminSocket(options.adminSocket)
      : null;
    if (this.#admin !== null && !options.dryRun) {
      const misfit = templateFit((input) => options.renderer.render(input));
      if (misfit !== null) {
        log.warn(
          "The template renders more than server lines when a server joins ({reason}); every change reloads HAProxy",
          { reason: misfit },
        );
        this.#admin = null;
      }
    }
    const managed = options.managed;
    if (managed !== undefined) {
      managed.onRestart = () => {
        // It runs the file as it was when it started; go on from there.
        this.#running = managed.loadedText;
        this.schedule();
      };
    }
    // Updates run back to back; what arrives during one is taken together
    // by the next. The debounce timing holds back reloads alone (#update).
    this.#debouncer = new Debouncer(
      () => this.update().catch(() => {}),
      { quietMs: 0, maxMs: 0 },
    );
  }

  /**
   * Asks for an update. It runs at once, or right after the one in
   * progress (changes that arrive meanwhile are taken together); only a
   * reload waits for a burst of events to settle.
   */
  schedule(): void {
    if (this.#closed) return;
    const now = Date.now();
    if (now - this.#lastTrigger >= this.#options.debounce.quietMs) {
      // The first change after a quiet time waits for nothing.
      this.#burstStart = now;
      this.#leading = true;
    }
    this.#lastTrigger = now;
    // A reload already waits for this burst and will take this change too;
    // rendering again for every event of a storm would only churn memory.
    if (this.#deferred !== undefined && !this.#urgent) return;
    this.#debouncer.trigger();
  }

  /** Runs a scheduled update now, if any, and waits for updates in progress. */
  async flush(): Promise<void> {
    if (this.#deferred !== undefined) {
      clearTimeout(this.#deferred);
      this.#deferred = undefined;
      this.#leading = true;
      this.#debouncer.trigger();
    }
    await this.#debouncer.flush();
    await this.#queue;
  }

  /**
   * Asks for an update that no burst may hold back, even when it needs a
   * reload: a container is about to stop and must get no new requests.
   */
  urgent(): void {
    this.#urgent = true;
    this.schedule();
  }

  /** Drops a scheduled update and waits for one in progress. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#clearTimers();
    await this.#debouncer.stop();
    await this.#options.acme?.close();
    await this.#options.tls?.source.close();
    await this.#queue;
    // An update in progress may have armed a retry or a deferred reload.
    this.#clearTimers();
    await this.#options.managed?.stop();
  }

  #clearTimers(): void {
    clearTimeout(this.#recheck);
    this.#recheck = undefined;
    clearTimeout(this.#retry);
    this.#retry = undefined;
    clearTimeout(this.#deferred);
    this.#deferred = undefined;
  }

  /**
   * Renders the current containers and installs the result. Updates never
   * overlap; each one starts from the inventory as it is when it runs.
   *
   * @throws {ReportedError} when the template fails, HAProxy rejects the
   * configuration or the reload command fails; the details are logged.
   */
  update(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    const run = this.#queue.then(() =>
      this.#closed ? undefined : this.#update()
    );
    this.#queue = run.catch(() => {});
    return run;
  }

  async #update(): Promise<void> {
    const all = this.#source.list();
    const containers = this.#damp(all);
    const built = buildRoutes(containers, this.#options.routes);
    this.#report(built.findings);
    this.#observe(all, built);
    if (!this.#options.dryRun) {
      this.#options.acme?.want(
        built.routes.filter((route) => route.settings.tls).map((route) =>
          route.host
        ),
      );
    }
    let table: RouteTable & RenderInput = built;
    let hostMaps: HostMaps | undefined;
    if (this.#options.maps?.http !== undefined) {
      if (this.#options.once && this.#pool === EMPTY_POOL) {
        this.#pool = await this.#installedPool();
      }
      const pooled = assignPool(built, this.#pool);
      table = pooled.table;
      hostMaps = pooled.table.maps;
      this.#pool = pooled.assignment;
    }
    const companions = this.#companionsFor(hostMaps);
    if (companions.certs !== null) {
      table = { ...table, defaultCert: companions.certs.defaultCert.path };
    }
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
      this.#telemetry.applyFailed(error.message);
      log.error("{message}; kept the running configuration", {
        message: error.message,
      });
      throw new ReportedError(error.message);
    }
    this.stats.renders++;
    this.#telemetry.rendered();
    if (this.#options.dryRun && this.#options.preview) {
      try {
        this.preview = await this.#preview(text, companions);
      } catch (error) {
        if (!(error instanceof ConfigRejectedError)) throw error;
        this.stats.rejections++;
        log.error("{message}", { message: error.message });
        for (const line of error.details) {
          log.error("haproxy: {line}", { line });
        }
        throw new ReportedError(error.message);
      }
      return;
    }
    if (this.#options.dryRun) {
      // Maps and the crt-list are files of their own; shown as comments.
      const printed = [
        text,
        ...companionFiles(companions, this.#options.tls).map((file) =>
          `# ${file.path}:\n${
            file.text.replace(/^/gm, "# ").replace(/# $/, "")
          }`
        ),
      ].join("\n");
      if (printed !== this.#lastPrinted) {
        (this.#options.print ?? ((out) => console.log(out)))(printed);
        this.#lastPrinted = printed;
      }
      this.#logPlacements(table, all);
      return;
    }
    const routes = [...table.routes, ...table.tcpRoutes];
    this.#size = {
      routes: routes.length,
      servers: routes.reduce((n, r) => n + r.servers.length, 0),
    };
    const leading = this.#leading;
    const urgent = this.#urgent;
    this.#leading = false;
    this.#urgent = false;
    const started = performance.now();
    let method: ApplyMethod | null;
    try {
      method = await this.#apply(text, companions, leading, urgent);
      if (method === null) return;
    } catch (error) {
      this.#telemetry.applyFailed(
        error instanceof Error ? error.message : String(error),
      );
      if (error instanceof ConfigRejectedError) {
        this.#telemetry.validationFailed();
        this.stats.rejections++;
        log.error("{message}", { message: error.message });
        for (const line of error.details) {
          log.error("haproxy: {line}", { line });
        }
        throw new ReportedError(error.message);
      }
      if (error instanceof Deno.errors.NotCapable) throw error;
      // A full disk, a reload that failed, an HAProxy that does not start:
      // nothing the next event fixes, so try again by itself.
      const wait = backoff(this.#attempt++, RETRY_BASE_MS, RETRY_MAX_MS);
      const message = error instanceof Error ? error.message : String(error);
      log.error("Cannot apply {file}: {message}; retrying in {wait} ms", {
        file: this.#options.apply.configFile,
        message,
        wait,
      });
      clearTimeout(this.#retry);
      this.#retry = setTimeout(() => {
        this.#retry = undefined;
        this.update().catch(() => {});
      }, wait);
      throw new ReportedError(message);
    }
    this.#telemetry.applied(method, (performance.now() - started) / 1000);
    this.#attempt = 0;
    clearTimeout(this.#retry);
    this.#retry = undefined;
    this.#logPlacements(table, all);
  }

  /** The pool of the installed configuration and host maps (a `-1` run). */
  async #installedPool(): Promise<PoolAssignment> {
    const installed = await readOrNull(this.#options.apply.configFile);
    if (installed === null) return EMPTY_POOL;
    const { http, https, redirect } = this.#options.maps ?? {};
    const maps = [];
    for (const file of [http, https, redirect]) {
      if (file !== undefined) {
        maps.push(parseMapText(await readOrNull(file) ?? ""));
      }
    }
    return seedPool(installed, maps);
  }

  /**
   * Validates `text` with the files it reads, and compares them with the
   * installed ones: what the change would do.
   *
   * @throws {ConfigRejectedError} when HAProxy rejects the rendering.
   */
  async #preview(text: string, companions: Companions): Promise<Preview> {
    const { apply, tls } = this.#options;
    const files = [
      { path: apply.configFile, text },
      ...companionFiles(companions, tls),
    ];
    const certs = certFiles(companions)?.certs ?? [];
    await checkConfig(text, [
      ...files.slice(1),
      ...certs.map((cert) => ({ path: cert.path, text: cert.pem })),
    ], apply);
    const before = await Promise.all(
      files.map((file) => readOrNull(file.path)),
    );
    const installed = before[0] ?? null;
    const crtList = tls === undefined ? null : await readOrNull(tls.crtList);
    const plan = installed === null
      ? { kind: "reload" as const, reason: `${apply.configFile} is not there` }
      : planChange(installed, text, {
        maps: await Promise.all(
          companions.maps.map(async (
            { file, entries },
          ): Promise<MapChange> => ({
            file,
            before: parseMapText(await readOrNull(file) ?? ""),
            after: entries,
          })),
        ),
        ...(tls === undefined || companions.certs === null ? {} : {
          certs: {
            crtList: tls.crtList,
            // Paths are what the plan compares.
            before: (crtList ?? "").split("\n").map((line) =>
              line.trim().split(/\s+/)[0] ?? ""
            ).filter((path) => path !== "" && !path.startsWith("#")).map((
              path,
            ) => ({ path, pem: "" })),
            after: companions.certs.certs,
          },
        }),
      });
    return {
      files: files.map((file, i) => ({
        path: file.path,
        before: before[i] ?? null,
        after: file.text,
      })),
      plan,
    };
  }

  /**
   * How long a reload should still wait for the burst of events to settle,
   * in ms; 0 when it may run now.
   */
  #burstWait(): number {
    const { quietMs, maxMs } = this.#options.debounce;
    if (quietMs === 0) return 0;
    // The maximum wait counts from the burst's start or the last reload,
    // so a long burst reloads once per maximum wait, not on every event
    // once the first maximum has passed.
    const since = Math.max(this.#burstStart, this.#lastReload);
    const end = Math.min(this.#lastTrigger + quietMs, since + maxMs);
    return Math.max(0, end - Date.now());
  }

  /**
   * Gets HAProxy to run `text` (and its maps and certificates): through the runtime API when
   * it can, by a reload otherwise. A reload in the middle of a burst waits
   * for the burst to settle, unless this is the burst's first update or an
   * urgent one. Returns how HAProxy got it, or null when it waits.
   */
  async #apply(
    text: string,
    companions: Companions,
    leading: boolean,
    urgent: boolean,
  ): Promise<ApplyMethod | null> {
    const { configFile } = this.#options.apply;
    if (!this.#checkedForeign) {
      const kept = await keepForeignConfig(configFile);
      if (kept !== null) {
        log.warn(
          "{file} was not written by docker-balancer; kept it as {kept}",
          { file: configFile, kept },
        );
      }
      this.#checkedForeign = true;
    }
    if (
      this.#running === null && this.#options.once &&
      await readOrNull(configFile) === text
    ) {
      log.debug("Configuration unchanged; nothing to install");
      await this.#install(text, companions);
      this.#ran(text, companions);
      return "files";
    }
    const tls = this.#options.tls;
    const plan = planChange(this.#running, text, {
      maps: companions.maps.map(({ file, entries }): MapChange => ({
        file,
        before: this.#runningMaps.get(file) ?? [],
        after: entries,
      })),
      ...(tls === undefined || companions.certs === null ? {} : {
        certs: {
          crtList: tls.crtList,
          before: this.#runningCerts,
          after: companions.certs.certs,
        },
      }),
    });
    if (plan.kind === "none") {
      // Nothing for HAProxy; the files are put right if someone changed them.
      await this.#install(text, companions);
      return "files";
    }
    if (plan.kind === "runtime" && this.#admin !== null) {
      try {
        // New certificates are on disk before HAProxy is told of them.
        await this.#writeCerts(companions);
        await this.#runtime(plan.ops, companions);
        // The file follows, so a reload or restart runs the same servers.
        await this.#install(text, companions);
        this.#ran(text, companions);
        this.stats.runtimeUpdates++;
        this.#telemetry.runtimeOps(plan.ops);
        log.info(
          "Applied {count} changes through the runtime API, no reload: {summary}",
          { count: plan.ops.length, summary: summarize(plan.ops) },
        );
        return "runtime";
      } catch (error) {
        if (error instanceof ConfigRejectedError) throw error;
        if (error instanceof Deno.errors.NotCapable) this.#noPermission();
        this.stats.runtimeFallbacks++;
        this.#statesTrusted = false;
        await this.#reload(
          text,
          companions,
          `runtime API failed (${
            error instanceof Error ? error.message : String(error)
          })`,
        );
        return "reload";
      }
    }
    const reason = plan.kind === "reload"
      ? plan.reason
      : `${summarize(plan.ops)} (no admin socket)`;
    // The first change after a quiet time, and a drain that needs a reload
    // (no runtime API), go at once, but HAProxy reloads at most once per
    // quiet time: a storm with pauses in it, or a mass stop, is a burst too.
    const rested =
      Date.now() - this.#lastReload >= this.#options.debounce.quietMs;
    const wait = this.#running === null || ((leading || urgent) && rested)
      ? 0
      : this.#burstWait();
    if (wait > 0) {
      clearTimeout(this.#deferred);
      this.#deferred = setTimeout(() => {
        this.#deferred = undefined;
        this.update().catch(() => {});
      }, wait);
      log.debug("Reload ({reason}) waits {wait} ms for the burst to settle", {
        reason,
        wait,
      });
      return null;
    }
    await this.#reload(text, companions, reason);
    return "reload";
  }

  /**
   * Writes the certificate files HAProxy is about to read. Most updates
   * change servers only: a set written already is not looked at again,
   * except before a reload (see #reload).
   */
  async #writeCerts(companions: Companions): Promise<void> {
    const tls = this.#options.tls;
    const files = certFiles(companions);
    if (tls === undefined || files === null) return;
    if (files.key === this.#certsWritten) return;
    await writeLiveFiles(tls.liveDir, files.certs);
    this.#certsWritten = files.key;
  }

  /**
   * Validates and installs `text`, with its certificate files, maps and
   * crt-list before it; reloads nothing.
   */
  async #install(text: string, companions: Companions): Promise<void> {
    await this.#writeCerts(companions);
    const outcome = await applyConfig(text, {
      ...this.#options.apply,
      reloadCmd: [],
      // HAProxy reads the maps and the crt-list with the configuration.
      companions: companionFiles(companions, this.#options.tls),
    });
    if (outcome === "applied") {
      this.stats.installs++;
      log.info("Installed {file}: {routes} routes, {servers} servers", {
        file: this.#options.apply.configFile,
        ...this.#size,
      });
    }
    const tls = this.#options.tls;
    const files = certFiles(companions);
    if (tls !== undefined && files !== null && files.key !== this.#prunedFor) {
      await pruneLiveFiles(
        tls.liveDir,
        new Set(files.certs.map((cert) => cert.path)),
      );
      this.#prunedFor = files.key;
    }
  }

  /** Takes note of what HAProxy runs now. */
  #ran(text: string, companions: Companions): void {
    this.#running = text;
    this.#runningMaps = new Map(
      companions.maps.map(({ file, entries }) => [file, entries]),
    );
    this.#runningCerts = companions.certs?.certs ?? [];
  }

  /** Maps and certificates for this update. */
  #companionsFor(hostMaps: HostMaps | undefined): Companions {
    const files = this.#options.maps ?? {};
    const tls = this.#options.tls;
    const maps: { file: string; entries: HostMap }[] = [];
    if (hostMaps !== undefined) {
      if (files.http) maps.push({ file: files.http, entries: hostMaps.http });
      if (tls !== undefined && files.https) {
        maps.push({ file: files.https, entries: hostMaps.https });
      }
      if (tls !== undefined && files.redirect) {
        maps.push({ file: files.redirect, entries: hostMaps.redirect });
      }
    }
    if (files.acme) {
      const entries = [...this.#options.challenges?.entries() ?? []].sort((
        [a],
        [b],
      ) => a < b ? -1 : a > b ? 1 : 0);
      maps.push({ file: files.acme, entries });
    }
    return { maps, certs: tls === undefined ? null : servedCerts(tls) };
  }

  /** Whether HAProxy runs `key` in the map `file` with `value`. */
  serves(file: string, key: string, value: string): boolean {
    return (this.#runningMaps.get(file) ?? []).some(([k, v]) =>
      k === key && v === value
    );
  }

  async #reload(
    text: string,
    companions: Companions,
    reason: string,
  ): Promise<void> {
    // HAProxy reads every certificate file again: make sure each is there.
    this.#certsWritten = "";
    await this.#install(text, companions);
    await this.#saveStates();
    const managed = this.#options.managed;
    const command = this.#options.apply.reloadCmd;
    // A managed HAProxy not running yet is started, which it logs itself.
    const starting = managed !== undefined && !managed.running;
    const started = performance.now();
    if (managed !== undefined) await managed.reload();
    else if (command.length > 0) await reload(command);
    const seconds = (performance.now() - started) / 1000;
    this.#ran(text, companions);
    this.#statesTrusted = true;
    this.#lastReload = Date.now();
    // With no reload command whoever runs HAProxy reloads it: nothing to say.
    if (starting || (managed === undefined && command.length === 0)) return;
    this.stats.reloads++;
    this.#telemetry.reloaded(seconds);
    log.info("Reloaded HAProxy: {reason}", { reason });
  }

  /** Runs the operations on the admin socket and checks that HAProxy has what was asked. */
  async #runtime(
    ops: readonly RuntimeOp[],
    companions: Companions,
  ): Promise<void> {
    const admin = this.#admin as AdminSocket;
    for (const op of ops) {
      for (const { command, ok, payload } of commandsFor(op)) {
        await admin.run(command, ok, payload);
      }
    }
    const servers = new Map(
      (await admin.servers()).map((s) => [`${s.backend}/${s.name}`, s]),
    );
    for (const op of ops) {
      if (op.op === "map" || op.op === "cert-add" || op.op === "cert-remove") {
        continue;
      }
      const name = op.op === "add" ? op.server.name : op.server;
      const now = servers.get(`${op.backend}/${name}`);
      const off = now === undefined ? op.op !== "remove" : op.op === "remove" ||
        (op.op === "add" &&
          (now.address !== op.server.address ||
            now.port !== op.server.port ||
            now.weight !== op.server.weight)) ||
        (op.op === "address" &&
          (now.address !== op.address || now.port !== op.port)) ||
        (op.op === "weight" && now.weight !== op.weight);
      if (off) {
        throw new RuntimeError(
          `HAProxy reports server ${op.backend}/${name} as ${
            now === undefined
              ? "absent"
              : `${now.address}:${now.port} weight ${now.weight}`
          } after "${op.op}"`,
        );
      }
    }
    const touched = new Set(ops.map((op) => op.op === "map" ? op.file : ""));
    for (const { file, entries } of companions.maps) {
      if (!touched.has(file)) continue;
      if (mapText(await admin.mapEntries(file)) !== mapText(entries)) {
        throw new RuntimeError(
          `HAProxy's map ${file} differs from the plan after the change`,
        );
      }
    }
    const tls = this.#options.tls;
    if (
      tls !== undefined && companions.certs !== null &&
      ops.some((op) => op.op === "cert-add" || op.op === "cert-remove")
    ) {
      const has = (await admin.crtListEntries(tls.crtList)).sort().join("\n");
      const want = companions.certs.certs.map((cert) => cert.path).sort()
        .join("\n");
      if (has !== want) {
        throw new RuntimeError(
          `HAProxy's crt-list ${tls.crtList} differs from the plan after the change`,
        );
      }
    }
  }

  /** The binary may not use the admin socket: say so once and reload from now on. */
  #noPermission(): void {
    log.warn(
      "Not allowed to use HAProxy's admin socket {socket}; every change reloads (this binary may use {allowed})",
      { socket: this.#admin?.path ?? "", allowed: HAPROXY_SOCKETS[0] ?? "" },
    );
    this.#admin = null;
  }

  /**
   * Saves server states (health, drain, weights set at runtime) for the
   * next worker to load. After a runtime change that failed half-way they
   * are not trusted: the file alone then decides.
   */
  async #saveStates(): Promise<void> {
    const file = this.#options.stateFile;
    if (file === undefined) return;
    if (this.#admin !== null && this.#statesTrusted && this.#running !== null) {
      try {
        await writeAtomically(file, await this.#admin.serversStateText());
        return;
      } catch (error) {
        if (error instanceof Deno.errors.NotCapable) this.#noPermission();
        else {
          log.warn(
            "Cannot save server states to {file}: {error}; the new worker starts from the configuration alone",
            { file, error: (error as Error).message },
          );
        }
      }
    }
    await Deno.remove(file).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
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

  /** Tells the telemetry what is not routed and which certificates are served. */
  #observe(all: readonly ContainerRecord[], built: RouteTable): void {
    const telemetry = this.#telemetry;
    if (telemetry === NO_TELEMETRY) return;
    telemetry.unrouted(
      countByReason(
        unroutedOf(
          all,
          built.findings,
          this.#damped,
          this.#options.routes.includeEnv === true,
        ),
      ),
    );
    const source = this.#options.tls?.source;
    if (source !== undefined) {
      const loaded = [
        ...source.certs,
        ...(source.defaultCert === undefined ? [] : [source.defaultCert]),
      ];
      telemetry.certificates(
        loaded.flatMap(({ info }) =>
          info.names.map((host) => ({ host, notAfter: info.notAfter }))
        ),
      );
    }
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
