/**
 * Renders haproxy.cfg from a routing table with Nunjucks templates found on a
 * search path of directories and the built-in templates.
 *
 * @module
 */

// @ts-types="@types/nunjucks"
import nunjucks from "nunjucks";
import { BUILTIN_DIR, BUILTIN_TEMPLATES } from "./builtin_templates.ts";
import type { HttpRoute, RouteTable } from "../../routing/route_types.ts";
import type { PooledTable } from "../model/pool.ts";
import { memoizer } from "./template_memo.ts";
import {
  type HttpFrontendView,
  httpsSniRules,
  type PoolSlot,
  type RouteView,
  type SlotView,
  tcpFrontendsOf,
  tcpViewOf,
  viewOf,
} from "./template_views.ts";
import { errorMessage } from "../../util/error_message.ts";
import type { ErrorPage } from "../error_pages.ts";
import { guardedHosts } from "../../routing/name_owners.ts";

/** Where templates come from. */
export interface TemplateOptions {
  /** Directories searched in order; {@link BUILTIN_DIR} stands for the built-ins. */
  readonly dirs: readonly string[];
  /** Template to render, looked up on the search path (or an absolute path). */
  readonly file: string;
}

/** Listener settings passed to the template. */
export interface ListenOptions {
  /** `bind` arguments of the HTTP frontend, such as `*:80`. */
  readonly httpBind: readonly string[];
  /** One HTTP frontend per label port, on the `httpBind` addresses (`--per-port-frontends`). */
  readonly perPortFrontends?: boolean;
  /** `bind` argument of the stats listener, or "" for none. */
  readonly statsBind: string;
  /** Address the TCP frontends bind to, `*` for all. */
  readonly tcpBindAddress: string;
  /** Path of HAProxy's admin socket (with `expose-fd listeners`), or "" for none. */
  readonly statsSocket?: string;
  /** HAProxy's `server-state-file`, or "" for none. */
  readonly stateFile?: string;
  /** Arguments of the global `log` line; "" for the template's default. */
  readonly logTarget?: string;
  /** Map files the configuration reads; absent or "" for none. */
  readonly maps?: Partial<MapFiles>;
  /** `bind` arguments of the HTTPS frontend; none for no HTTPS. */
  readonly httpsBind?: readonly string[];
  /** The crt-list file of the HTTPS frontend: the certificates HAProxy picks from by SNI. */
  readonly crtList?: string;
  /** Secret HAProxy derives sticky-session cookie values from. */
  readonly cookieKey?: string;
  /**
   * Where the HTTPS frontend listens when TLS passthrough shares its
   * port: the passthrough frontend hands it the connections it keeps.
   */
  readonly httpsSocket?: string;
  /** CA file `scheme=https` containers are verified against; "" for none. */
  readonly backendCaFile?: string;
  /** HAProxy's `hard-stop-after`; "" for none. */
  readonly hardStopAfter?: string;
  /** Addresses and ranges whose `X-Forwarded-For` (and PROXY header) is believed. */
  readonly trustedProxies?: readonly string[];
  /** Trusted proxies send a PROXY header (never without `trustedProxies`: checkSettings). */
  readonly proxyProtocol?: boolean;
  /** The `log` target of the JSON access log, as HAProxy writes it; absent for none. */
  readonly accessLog?: string;
  /** The operator's error pages. */
  readonly errorPages?: readonly ErrorPage[];
}

/** The map files of a configuration. */
export interface MapFiles {
  /** Plain hosts the HTTP frontend serves, to pool backends. */
  readonly http: string;
  /** Plain hosts the HTTPS frontend serves, to pool backends. */
  readonly https: string;
  /** Plain hosts redirected from HTTP to HTTPS. */
  readonly redirect: string;
  /** ACME HTTP-01 tokens to their key authorizations. */
  readonly acme: string;
  /** Hosts that lost their last route lately: 503 for them, 404 for others. */
  readonly gone: string;
  /** Backends whose servers all just started: requests wait until one listens. */
  readonly fresh: string;
  /** Backends with forward auth, to where they ask: `address:port/path`. */
  readonly auth: string;
  /** The Lua actions that read `fresh` and `auth` (templates/glue.lua); not a map. */
  readonly lua: string;
}

/** The routes a configuration is rendered from. */
export type RenderInput =
  & Pick<RouteTable, "routes" | "tcpRoutes">
  & Partial<Pick<PooledTable, "pool">>
  & {
    /** The certificate served when no other matches the SNI name. */
    readonly defaultCert?: string;
  };

/** No routes at all. */
export const NO_ROUTES: RenderInput = { routes: [], tcpRoutes: [] };

/** A template that could not be found, compiled or rendered. */
export class TemplateError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TemplateError";
  }
}

interface Source {
  src: string;
  path: string;
  noCache: boolean;
}

function isNotFound(error: unknown): boolean {
  return error instanceof Deno.errors.NotFound ||
    error instanceof Deno.errors.NotADirectory;
}

/** A Nunjucks loader over the search path; it reads files synchronously, as Nunjucks expects. */
class SearchPathLoader {
  readonly #dirs: readonly string[];

  constructor(dirs: readonly string[]) {
    this.#dirs = dirs;
  }

  getSource(name: string): Source | null {
    if (name.startsWith("/")) return this.#read(name);
    for (const dir of this.#dirs) {
      if (dir === BUILTIN_DIR) {
        const src = BUILTIN_TEMPLATES[name];
        if (src !== undefined) {
          return { src, path: `${BUILTIN_DIR}/${name}`, noCache: false };
        }
        continue;
      }
      const found = this.#read(`${dir.replace(/\/+$/, "")}/${name}`);
      if (found !== null) return found;
    }
    return null;
  }

  #read(path: string): Source | null {
    try {
      return { src: Deno.readTextFileSync(path), path, noCache: false };
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
  }
}

/** A compiled template ready to render routing tables. */
export class Renderer {
  readonly #template: nunjucks.Template;
  readonly #listen: ListenOptions;
  // Routes are immutable and kept between updates while unchanged, so their
  // views (and the sections memo() keeps for them) can be too.
  readonly #views = new WeakMap<HttpRoute, RouteView>();
  // The pool keeps a slot's object while its route stays (host_pool.ts).
  readonly #slots = new WeakMap<PoolSlot, SlotView>();

  /**
   * Finds and compiles the template now, so a missing or broken template is
   * reported at start-up rather than at the first event.
   *
   * @throws {TemplateError} when the template is missing or does not compile.
   */
  constructor(templates: TemplateOptions, listen: ListenOptions) {
    const env = new nunjucks.Environment(
      new SearchPathLoader(templates.dirs) as unknown as nunjucks.ILoader,
      { autoescape: false, throwOnUndefined: false, trimBlocks: false },
    );
    env.addGlobal("memo", memoizer());
    try {
      this.#template = env.getTemplate(templates.file, true);
    } catch (error) {
      throw new TemplateError(
        `Cannot load template ${JSON.stringify(templates.file)} (searched ${
          templates.dirs.join(":")
        }): ${firstLine(error)}`,
        { cause: error },
      );
    }
    this.#listen = listen;
    // A template can compile and still fail at render time (a bad include,
    // a filter that does not exist); try it once with no routes.
    this.render(NO_ROUTES);
  }

  /**
   * The HTTP frontends: one on `--http-bind` with every route, or with
   * per-port frontends one per label port, each with that port's routes.
   */
  #frontends(routes: readonly HttpRoute[]): HttpFrontendView[] {
    const frontend = (
      name: string,
      binds: string[],
      own: readonly HttpRoute[],
      host_key: string,
    ): HttpFrontendView => {
      const views = own.map((route) => this.#view(route));
      return {
        name,
        binds,
        routes: views,
        unmapped: views.filter((view) => !view.mapped),
        host_key,
      };
    };
    if (!this.#listen.perPortFrontends) {
      return [
        frontend("http", [...this.#listen.httpBind], routes, "var(txn.host)"),
      ];
    }
    const ports = [...new Set(routes.map((route) => route.listen ?? 0))]
      .sort((a, b) => a - b);
    return ports.map((port) =>
      frontend(
        `http_${port}`,
        bindsOnPort(this.#listen.httpBind, port),
        routes.filter((route) => (route.listen ?? 0) === port),
        // The host map's keys are host:port (see pool.ts).
        `var(txn.host),concat(:${port})`,
      )
    );
  }

  #slot(slot: PoolSlot): SlotView {
    let view = this.#slots.get(slot);
    if (view === undefined) {
      const route = slot.route === null ? null : this.#view(slot.route);
      view = {
        backend: slot.backend,
        // A spare's own empty list: memo() finds its section by it.
        servers: route === null ? [] : route.servers,
        route,
      };
      this.#slots.set(slot, view);
    }
    return view;
  }

  #view(route: HttpRoute): RouteView {
    let view = this.#views.get(route);
    if (view === undefined) {
      view = viewOf(route, this.#listen.backendCaFile ?? "");
      this.#views.set(route, view);
    }
    return view;
  }

  /**
   * Renders the configuration for the given routes.
   *
   * @throws {TemplateError} when the template fails while rendering.
   */
  render(table: RenderInput): string {
    const maps = this.#listen.maps ?? {};
    const pooled = table.pool !== undefined;
    const httpsBind = this.#listen.httpsBind ?? [];
    // Pool backends show the same routes: one view each.
    const routes = table.routes.map((route) => this.#view(route));
    const tcp = table.tcpRoutes.map((route) =>
      tcpViewOf(route, this.#listen.tcpBindAddress)
    );
    const { frontends, passthrough } = tcpFrontendsOf(tcp);
    try {
      return this.#template.render({
        routes,
        unmapped_routes: routes.filter((view) => !view.mapped),
        http_frontends: this.#frontends(table.routes),
        pool: (table.pool ?? []).map((slot) => this.#slot(slot)),
        host_map: pooled ? maps.http ?? "" : "",
        https_map: pooled && httpsBind.length > 0 ? maps.https ?? "" : "",
        redirect_map: pooled && httpsBind.length > 0 ? maps.redirect ?? "" : "",
        acme_map: maps.acme ?? "",
        https_bind: httpsBind,
        https_port: httpsPortSuffix(httpsBind),
        default_cert: table.defaultCert ?? "",
        crt_list: this.#listen.crtList ?? "",
        cookie_key: this.#listen.cookieKey ?? "docker-glue",
        tcp_routes: tcp,
        tcp_frontends: frontends,
        https_passthrough: passthrough,
        https_sni_rules: passthrough.length === 0 ? [] : httpsSniRules(
          passthrough,
          guardedHosts(table.routes, table.tcpRoutes),
          "https_terminate",
        ),
        https_socket: this.#listen.httpsSocket ?? "",
        http_bind: this.#listen.httpBind,
        stats_bind: this.#listen.statsBind,
        stats_socket: this.#listen.statsSocket ?? "",
        state_file: this.#listen.stateFile ?? "",
        log_target: this.#listen.logTarget ?? "",
        hard_stop_after: this.#listen.hardStopAfter ?? "",
        trusted_proxies: (this.#listen.trustedProxies ?? []).join(" "),
        proxy_protocol: this.#listen.proxyProtocol === true,
        access_log: this.#listen.accessLog ?? "",
        error_pages: this.#listen.errorPages ?? [],
        gone_map: maps.gone ?? "",
        fresh_map: maps.fresh ?? "",
        lua_file: maps.fresh === undefined ? "" : maps.lua ?? "",
        auth_map: maps.auth ?? "",
      });
    } catch (error) {
      throw new TemplateError(
        `Cannot render template: ${firstLine(error)}`,
        { cause: error },
      );
    }
  }
}

/**
 * The `--http-bind` addresses moved to another port: the per-port frontend
 * of a label port listens where the HTTP frontend would, on that port.
 */
export function bindsOnPort(binds: readonly string[], port: number): string[] {
  return binds.map((bind) => {
    const [address = "", ...options] = bind.split(/\s+/);
    const colon = address.lastIndexOf(":");
    const host = colon < 0 ? address : address.slice(0, colon);
    return [`${host}:${port}`, ...options].join(" ");
  });
}

/**
 * What a redirect to HTTPS puts after the host: nothing when the HTTPS
 * frontend listens on 443, else `:port` of its first bind.
 */
function httpsPortSuffix(binds: readonly string[]): string {
  const address = (binds[0] ?? "").split(/\s+/)[0] ?? "";
  const port = /:([0-9]+)$/.exec(address)?.[1];
  return port === undefined || port === "443" ? "" : `:${port}`;
}

function firstLine(error: unknown): string {
  const text = errorMessage(error);
  return text.split("\n").map((line) => line.trim()).filter(Boolean).join(" ");
}
