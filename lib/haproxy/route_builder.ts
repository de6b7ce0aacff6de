/**
 * The route table kept up to date: an update looks at the containers whose
 * records changed (a record is replaced, never changed, when Docker reports
 * a change), re-claims those, and rebuilds only the routes whose claims
 * changed. The table is the one buildRoutes (routes.ts) would build from
 * the same containers; a property test holds the two together. Routes
 * that did not change are the same objects as in the last table, so what
 * is kept by route (the typed model, the log of placements) is found again.
 *
 * @module
 */

import { type ContainerRecord, isServing } from "../docker/container.ts";
import type { Finding, HttpClaim, RouteOptions, TcpClaim } from "./claims.ts";
import {
  claimsFor,
  disagreement,
  type GroupRoute,
  groupRoute,
  httpGroupKey,
  labelFindings,
  nameRoutes,
  tcpBesideHttp,
  tcpRoutes,
} from "./route_groups.ts";
import type { HttpRoute, RouteTable, Server, TcpRoute } from "./route_types.ts";

/** Builds route tables update after update, redoing what changed only. */
export class RouteBuilder {
  readonly #options: RouteOptions;
  readonly #perPort: boolean;
  /** The serving containers of the last update, by id. */
  #serving = new Map<string, ContainerRecord>();
  /** Claims by route key. */
  readonly #groups = new Map<string, Set<HttpClaim>>();
  /** The route of each route key. */
  readonly #routes = new Map<string, GroupRoute>();
  readonly #tcp = new Set<TcpClaim>();
  /** Containers whose labels have findings. */
  readonly #labelled = new Map<string, [ContainerRecord, readonly Finding[]]>();
  #last: RouteTable | null = null;
  #named: { routes: HttpRoute[]; findings: Finding[] } | null = null;

  /** Creates a builder for these route options. */
  constructor(options: RouteOptions = {}) {
    this.#options = options;
    this.#perPort = options.perPortFrontends === true;
  }

  /** The route table of `containers`. */
  build(containers: readonly ContainerRecord[]): RouteTable {
    const dirty = new Set<string>();
    let kept = 0;
    const changed: ContainerRecord[] = [];
    for (const container of containers) {
      const was = this.#serving.get(container.id);
      if (was === container) {
        kept++;
        continue;
      }
      if (was !== undefined) kept++;
      if (was !== undefined || isServing(container)) changed.push(container);
    }
    // Containers gone from the list: only looked for when some are.
    const gone: ContainerRecord[] = [];
    if (kept < this.#serving.size) {
      const ids = new Set(containers.map((c) => c.id));
      for (const [id, record] of this.#serving) {
        if (!ids.has(id)) gone.push(record);
      }
    }
    const drop = (record: ContainerRecord) => {
      const { claims } = claimsFor(record, this.#options);
      for (const claim of claims.http) {
        const key = httpGroupKey(claim, this.#perPort);
        this.#groups.get(key)?.delete(claim);
        dirty.add(key);
      }
      for (const claim of claims.tcp) this.#tcp.delete(claim);
      this.#labelled.delete(record.id);
      this.#serving.delete(record.id);
    };
    for (const record of gone) drop(record);
    for (const container of changed) {
      const was = this.#serving.get(container.id);
      if (was !== undefined) drop(was);
      if (!isServing(container)) continue;
      const { claims, findings } = claimsFor(container, this.#options);
      this.#serving.set(container.id, container);
      if (findings.length > 0) {
        this.#labelled.set(container.id, [container, findings]);
      }
      for (const claim of claims.http) {
        const key = httpGroupKey(claim, this.#perPort);
        let group = this.#groups.get(key);
        if (group === undefined) this.#groups.set(key, group = new Set());
        group.add(claim);
        dirty.add(key);
      }
      for (const claim of claims.tcp) this.#tcp.add(claim);
    }
    if (this.#last !== null && changed.length === 0 && gone.length === 0) {
      return this.#last;
    }
    const table = this.#table(dirty);
    this.#last = table;
    return table;
  }

  #table(dirty: ReadonlySet<string>): RouteTable {
    let keysChanged = false;
    const redone = new Map<string, GroupRoute>();
    for (const key of dirty) {
      const claims = this.#groups.get(key);
      const route = claims === undefined || claims.size === 0
        ? null
        : groupRoute([...claims], this.#perPort);
      if (route === null) {
        this.#groups.delete(key);
        if (this.#routes.delete(key)) keysChanged = true;
        continue;
      }
      if (!this.#routes.has(key)) keysChanged = true;
      this.#routes.set(key, route);
      redone.set(key, route);
    }
    const last = this.#last;
    let named = this.#named;
    if (named === null || keysChanged) {
      named = nameRoutes([...this.#routes.values()]);
    } else if (redone.size > 0) {
      // The same route keys: the same order and backend names (the order
      // goes by host, prefix and port alone). The routes redone replace
      // theirs.
      const routes = named.routes.map((route) => {
        const group = redone.get(this.#keyOf(route));
        return group === undefined
          ? route
          : { ...group.route, backend: route.backend };
      });
      named = {
        routes,
        findings: routes.flatMap((route) =>
          this.#routes.get(this.#keyOf(route))?.findings ?? []
        ),
      };
    }
    this.#named = named;
    const routes = intern(named.routes, last?.routes, sameHttp);
    const findings = [
      ...labelFindings(this.#labelled.values()),
      ...named.findings,
    ];
    // TCP routes are few: built whole, for their findings too.
    const tcpClaims = tcpBesideHttp(
      [...this.#tcp],
      routes,
      this.#perPort,
      findings,
    );
    const tcp = intern(
      tcpRoutes(tcpClaims, findings),
      last?.tcpRoutes,
      sameTcp,
    );
    return { routes, tcpRoutes: tcp, findings };
  }

  /** A named route's key: what httpGroupKey gives its claims. */
  #keyOf(route: HttpRoute): string {
    return this.#perPort
      ? `${route.listen}\n${route.host}\n${route.prefix}`
      : `${route.host}\n${route.prefix}`;
  }
}

function sameServer(a: Server, b: Server): boolean {
  return a.name === b.name && a.containerId === b.containerId &&
    a.containerName === b.containerName && a.address === b.address &&
    a.port === b.port && a.weight === b.weight &&
    a.draining === b.draining && a.maxconn === b.maxconn;
}

function sameServers(a: readonly Server[], b: readonly Server[]): boolean {
  return a.length === b.length &&
    a.every((server, i) => sameServer(server, b[i]!));
}

function sameHttp(a: HttpRoute, b: HttpRoute): boolean {
  return a.host === b.host && a.prefix === b.prefix && a.listen === b.listen &&
    a.mapped === b.mapped &&
    disagreement(a.settings, b.settings) === undefined &&
    sameServers(a.servers, b.servers);
}

function sameTcp(a: TcpRoute, b: TcpRoute): boolean {
  return a.listen === b.listen && a.port === b.port &&
    sameServers(a.servers, b.servers);
}

/**
 * Each route equal to the previous table's route of its backend is that
 * route object: what is kept by route (the typed model, the log of
 * placements, structure keys) is then found again, and an update costs
 * what changed.
 */
function intern<R extends HttpRoute | TcpRoute>(
  routes: R[],
  previous: readonly R[] | undefined,
  same: (a: R, b: R) => boolean,
): R[] {
  if (previous === undefined || previous.length === 0) return routes;
  const before = new Map(previous.map((route) => [route.backend, route]));
  return routes.map((route) => {
    const was = before.get(route.backend);
    return was !== undefined && (was === route || same(was, route))
      ? was
      : route;
  });
}
