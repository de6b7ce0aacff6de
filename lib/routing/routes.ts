/**
 * The route table, from container records, kept up to date: an update
 * looks at the containers whose records changed (a record is replaced,
 * never changed, when Docker reports a change), re-claims those, and
 * rebuilds only the routes whose claims changed. A whole build is an
 * update in which every container changed, so `routes`, the preview and
 * the daemon run this one implementation; a property test holds an update
 * equal to a build from nothing. Routes that did not change are the same
 * objects as in the last table, so what is kept by route (the typed model,
 * the log of placements) is found again. Containers that are not serving
 * (stopped, paused, unhealthy, still starting) are left out; bad labels
 * lose the affected route and get a finding, in container order, then the
 * conflicts in route order.
 *
 * @module
 */

import { matchKey } from "./route_match.ts";
import {
  type ContainerRecord,
  isServing,
  recordKey,
} from "../docker/container.ts";
import { lowerBound, sameItems } from "../util/arrays.ts";
import type { Finding } from "./findings.ts";
import type { HttpClaim, RouteOptions, TcpClaim } from "./claims.ts";
import {
  backendName,
  byMatchOrder,
  claimsFor,
  compare,
  type GroupRoute,
  groupRoute,
  httpGroupKey,
  labelFindings,
  nameRoutes,
  tcpBesideHttp,
  tcpRoutes,
} from "./route_groups.ts";
import { disagreement } from "./route_settings.ts";
import { isExactHost } from "./labels.ts";
import type { HttpRoute, RouteTable, Server, TcpRoute } from "./route_types.ts";
import { httpsName, nameLosers, sharesHttpsName } from "./name_owners.ts";

/** The routes that left and joined a table since the last one. */
export interface RouteChanges {
  /** The last table's routes, which these changes are from. */
  readonly from: readonly HttpRoute[];
  /** Routes of the last table not in this one (a changed route is both). */
  readonly removed: readonly HttpRoute[];
  /** Routes of this table not in the last one. */
  readonly added: readonly HttpRoute[];
}

/** Builds route tables update after update, redoing what changed only. */
export class RouteBuilder {
  readonly #options: RouteOptions;
  readonly #perPort: boolean;
  /** The serving containers of the last update, by {@link recordKey}. */
  #serving = new Map<string, ContainerRecord>();
  /** Claims by route key. */
  readonly #groups = new Map<string, Set<HttpClaim>>();
  /** The route of each route key. */
  readonly #routes = new Map<string, GroupRoute>();
  readonly #tcp = new Set<TcpClaim>();
  #tcpDirty = true;
  /** Containers whose labels have findings. */
  readonly #labelled = new Map<string, [ContainerRecord, readonly Finding[]]>();
  #last: RouteTable | null = null;
  /** The last table's parts, each reused while what it comes from is unchanged. */
  #named: HttpRoute[] | null = null;
  #namedFindings: readonly Finding[] = [];
  #labelFindings: readonly Finding[] | null = null;
  #tcpPart: { routes: TcpRoute[]; findings: Finding[] } | null = null;
  /** The three parts the last table's findings were made of. */
  #findingParts: readonly (readonly Finding[])[] = [];
  /** The named route of each route key. */
  readonly #byKey = new Map<string, HttpRoute>();
  /** Claims on names of the HTTPS listener (name_owners.ts), by name. */
  readonly #shared = new Map<string, Set<HttpClaim | TcpClaim>>();
  /** The claims that lost their name, by name, and all of them. */
  readonly #lostByName = new Map<
    string,
    { lost: (HttpClaim | TcpClaim)[]; findings: Finding[] }
  >();
  readonly #lost = new Set<HttpClaim | TcpClaim>();
  #nameFindings: readonly Finding[] = [];
  #changes: RouteChanges | null = null;
  /**
   * The hosts each running container that serves no requests yet (health
   * starting or failing, paused) claims, by {@link recordKey}.
   */
  readonly #idle = new Map<string, readonly string[]>();
  #idleHosts: ReadonlySet<string> | null = null;

  /** Creates a builder for these route options. */
  constructor(options: RouteOptions = {}) {
    this.#options = options;
    this.#perPort = options.perPortFrontends === true;
  }

  /**
   * The HTTP routes that changed in the last build, or null when they are
   * not known (the first build): then anything may have changed.
   */
  get changes(): RouteChanges | null {
    return this.#changes;
  }

  /**
   * The hosts claimed by running containers that serve no requests (their
   * health check has not passed, or they are paused): a request for one of
   * them is for a site down, not a missing one.
   */
  get idleHosts(): ReadonlySet<string> {
    return this.#idleHosts ??= new Set([...this.#idle.values()].flat());
  }

  /** The route table of `containers`, each compared with its last record. */
  build(containers: readonly ContainerRecord[]): RouteTable {
    if (this.#idle.size > 0) this.#idleHosts = null;
    this.#idle.clear();
    for (const container of containers) this.#noteIdle(container);
    let kept = 0;
    const changed: ContainerRecord[] = [];
    for (const container of containers) {
      const was = this.#serving.get(recordKey(container));
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
      const ids = new Set(containers.map(recordKey));
      for (const [id, record] of this.#serving) {
        if (!ids.has(id)) gone.push(record);
      }
    }
    return this.#apply(changed, gone);
  }

  /**
   * The route table after the containers of `ids` changed (any other
   * container is as in the last build); `get` gives their records now,
   * undefined for one that is gone or left out.
   */
  update(
    ids: Iterable<string>,
    get: (id: string) => ContainerRecord | undefined,
  ): RouteTable {
    const changed: ContainerRecord[] = [];
    const gone: ContainerRecord[] = [];
    for (const id of ids) {
      const was = this.#serving.get(id);
      const container = get(id);
      if (this.#idle.delete(id)) this.#idleHosts = null;
      if (container !== undefined) this.#noteIdle(container);
      if (container === undefined) {
        if (was !== undefined) gone.push(was);
      } else if (
        was !== container && (was !== undefined || isServing(container))
      ) {
        changed.push(container);
      }
    }
    return this.#apply(changed, gone);
  }

  #apply(
    changed: readonly ContainerRecord[],
    gone: readonly ContainerRecord[],
  ): RouteTable {
    const dirty = new Set<string>();
    const touched = new Set<string>();
    const share = (claim: HttpClaim | TcpClaim, add: boolean) => {
      if (!sharesHttpsName(claim)) return;
      const name = httpsName(claim);
      let set = this.#shared.get(name);
      if (set === undefined) this.#shared.set(name, set = new Set());
      if (add) set.add(claim);
      else set.delete(claim);
      if (set.size === 0) this.#shared.delete(name);
      touched.add(name);
    };
    const drop = (record: ContainerRecord) => {
      const { claims } = claimsFor(record, this.#options);
      for (const claim of claims.http) {
        const key = httpGroupKey(claim, this.#perPort);
        this.#groups.get(key)?.delete(claim);
        dirty.add(key);
        share(claim, false);
      }
      for (const claim of claims.tcp) {
        this.#tcp.delete(claim);
        share(claim, false);
      }
      if (claims.tcp.length > 0) this.#tcpDirty = true;
      if (this.#labelled.delete(recordKey(record))) this.#labelFindings = null;
      this.#serving.delete(recordKey(record));
    };
    for (const record of gone) drop(record);
    for (const container of changed) {
      const was = this.#serving.get(recordKey(container));
      if (was !== undefined) drop(was);
      if (!isServing(container)) continue;
      const { claims, findings } = claimsFor(container, this.#options);
      this.#serving.set(recordKey(container), container);
      if (findings.length > 0) {
        this.#labelled.set(recordKey(container), [container, findings]);
        this.#labelFindings = null;
      }
      for (const claim of claims.http) {
        const key = httpGroupKey(claim, this.#perPort);
        let group = this.#groups.get(key);
        if (group === undefined) this.#groups.set(key, group = new Set());
        group.add(claim);
        dirty.add(key);
        share(claim, true);
      }
      for (const claim of claims.tcp) {
        this.#tcp.add(claim);
        share(claim, true);
      }
      if (claims.tcp.length > 0) this.#tcpDirty = true;
    }
    if (touched.size > 0) this.#owners(touched, dirty);
    if (this.#last !== null && changed.length === 0 && gone.length === 0) {
      this.#changes = { from: this.#last.routes, removed: [], added: [] };
      return this.#last;
    }
    const table = this.#table(dirty);
    this.#last = table;
    return table;
  }

  #noteIdle(container: ContainerRecord): void {
    if (isServing(container)) return;
    const hosts = claimsFor(container, this.#options).claims.http.map((claim) =>
      claim.host
    ).filter(isExactHost);
    if (hosts.length === 0) return;
    this.#idle.set(recordKey(container), hosts);
    this.#idleHosts = null;
  }

  /**
   * Decides again who owns each touched name of the HTTPS listener; the
   * routes of every claim whose standing may change are redone.
   */
  #owners(touched: ReadonlySet<string>, dirty: Set<string>): void {
    for (const name of touched) {
      const before = this.#lostByName.get(name);
      for (const claim of before?.lost ?? []) this.#lost.delete(claim);
      const now = nameLosers(name, this.#shared.get(name) ?? []);
      if (now.lost.length > 0) this.#lostByName.set(name, now);
      else this.#lostByName.delete(name);
      for (const claim of now.lost) this.#lost.add(claim);
      for (const claim of [...before?.lost ?? [], ...now.lost]) {
        if ("host" in claim) dirty.add(httpGroupKey(claim, this.#perPort));
        else this.#tcpDirty = true;
      }
      // A claim that stays may win or lose with the others.
      for (const claim of this.#shared.get(name) ?? []) {
        if ("host" in claim) dirty.add(httpGroupKey(claim, this.#perPort));
        else this.#tcpDirty = true;
      }
    }
    this.#nameFindings = [...this.#lostByName.keys()].sort(compare).flatMap(
      (name) => this.#lostByName.get(name)!.findings,
    );
  }

  #table(dirty: ReadonlySet<string>): RouteTable {
    const last = this.#last;
    let findingsChanged = false;
    const redone = new Map<string, GroupRoute | null>();
    for (const key of dirty) {
      const claims = [...this.#groups.get(key) ?? []].filter((claim) =>
        !this.#lost.has(claim)
      );
      const group = claims.length === 0
        ? null
        : groupRoute(claims, this.#perPort);
      const old = this.#routes.get(key);
      if ((old?.findings.length ?? 0) + (group?.findings.length ?? 0) > 0) {
        findingsChanged = true;
      }
      if (group === null) {
        this.#groups.delete(key);
        this.#routes.delete(key);
      } else this.#routes.set(key, group);
      redone.set(key, group);
    }
    const named = this.#named === null ? null : this.#edit(redone);
    let routes: HttpRoute[];
    if (named === null) {
      const whole = nameRoutes([...this.#routes.values()]);
      routes = intern(whole.routes, last?.routes, sameHttp);
      this.#namedFindings = whole.findings;
      this.#byKey.clear();
      for (const route of routes) {
        this.#byKey.set(this.#recordKey(route), route);
      }
      this.#tcpDirty = true;
      this.#changes = null;
    } else {
      routes = named.routes;
      if (findingsChanged) {
        this.#namedFindings = routes.flatMap((route) =>
          this.#routes.get(this.#recordKey(route))?.findings ?? []
        );
      }
      if (this.#perPort && named.keysChanged) this.#tcpDirty = true;
      this.#changes = { from: last?.routes ?? [], ...named.changes };
    }
    this.#named = routes;
    this.#labelFindings ??= labelFindings(this.#labelled.values());
    if (this.#tcpDirty || this.#tcpPart === null) {
      // TCP routes are few: built whole, for their findings too.
      const findings: Finding[] = [];
      const claims = tcpBesideHttp(
        [...this.#tcp].filter((claim) => !this.#lost.has(claim)),
        routes,
        this.#perPort,
        findings,
      );
      const tcp = intern(tcpRoutes(claims, findings), last?.tcpRoutes, sameTcp);
      this.#tcpPart = { routes: tcp, findings };
      this.#tcpDirty = false;
    }
    const parts = [
      this.#labelFindings,
      this.#namedFindings,
      this.#nameFindings,
      this.#tcpPart.findings,
    ];
    const findings = last !== null && sameItems(this.#findingParts, parts)
      ? last.findings
      : parts.flat();
    this.#findingParts = parts;
    return { routes, tcpRoutes: this.#tcpPart.routes, findings };
  }

  /**
   * The last table's routes with the redone groups put in: a changed route
   * replaces its own in place, a new one goes in at its place in match
   * order, a route that went is taken out. A backend's name is its route's
   * own (backendName), so no other route's name changes.
   */
  #edit(redone: ReadonlyMap<string, GroupRoute | null>): {
    routes: HttpRoute[];
    keysChanged: boolean;
    changes: Omit<RouteChanges, "from">;
  } {
    let keysChanged = false;
    const routes = this.#named!.slice();
    const removed: HttpRoute[] = [];
    const added: HttpRoute[] = [];
    for (const [key, group] of redone) {
      const old = this.#byKey.get(key);
      if (old !== undefined) {
        const at = position(routes, old);
        if (group === null) {
          routes.splice(at, 1);
          this.#byKey.delete(key);
          removed.push(old);
          keysChanged = true;
          continue;
        }
        const route = { ...group.route, backend: old.backend };
        if (sameHttp(old, route)) continue;
        routes[at] = route;
        this.#byKey.set(key, route);
        removed.push(old);
        added.push(route);
      } else if (group !== null) {
        const route = { ...group.route, backend: baseOf(group.route) };
        routes.splice(position(routes, route), 0, route);
        this.#byKey.set(key, route);
        added.push(route);
        keysChanged = true;
      }
    }
    return { routes, keysChanged, changes: { removed, added } };
  }

  /** A named route's key: what httpGroupKey gives its claims. */
  #recordKey(route: HttpRoute): string {
    const key = `${route.host}\n${route.prefix}\n${matchKey(route.match)}`;
    return this.#perPort ? `${route.listen}\n${key}` : key;
  }
}

function baseOf(route: HttpRoute): string {
  return backendName(route.host, route.prefix, route.listen, route.match);
}

/**
 * Where `route` is or belongs in `routes`, which are in match order: no
 * two routes of a table are equal in that order (it goes by their key).
 */
function position(routes: readonly HttpRoute[], route: HttpRoute): number {
  return lowerBound(routes, (item) => byMatchOrder(item, route) < 0);
}

function sameServer(a: Server, b: Server): boolean {
  return a.name === b.name && a.containerId === b.containerId &&
    a.containerName === b.containerName && a.address === b.address &&
    a.port === b.port && a.weight === b.weight &&
    a.draining === b.draining && a.maxconn === b.maxconn &&
    a.proxy === b.proxy;
}

function sameServers(a: readonly Server[], b: readonly Server[]): boolean {
  return a.length === b.length &&
    a.every((server, i) => sameServer(server, b[i]!));
}

function sameHttp(a: HttpRoute, b: HttpRoute): boolean {
  return a.host === b.host && a.prefix === b.prefix && a.listen === b.listen &&
    matchKey(a.match) === matchKey(b.match) &&
    a.mapped === b.mapped &&
    disagreement(a.settings, b.settings) === undefined &&
    sameServers(a.servers, b.servers);
}

function sameTcp(a: TcpRoute, b: TcpRoute): boolean {
  return a.listen === b.listen && a.port === b.port && a.sni === b.sni &&
    a.https === b.https && sameServers(a.servers, b.servers);
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

/** The route table of `containers`, built from nothing. */
export function buildRoutes(
  containers: readonly ContainerRecord[],
  options: RouteOptions = {},
): RouteTable {
  return new RouteBuilder(options).build(containers);
}
