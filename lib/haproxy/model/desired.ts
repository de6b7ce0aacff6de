/**
 * The state the loop wants HAProxy in, from the containers as they are:
 * crash-looping containers left out, the route table built, listeners
 * and routes HAProxy rejected left out, plain hosts given pool backends,
 * the maps and certificates that go with it, and the typed model. Each
 * step updates from the containers that changed; it logs nothing and
 * keeps no timer: what is new, and when to look again, is returned.
 *
 * @module
 */

import {
  type ChangeJournal,
  type ContainerRecord,
  type ContainerSource,
} from "../../docker/container.ts";
import { type Companions, companionsFor, installedPool } from "./companions.ts";
import type { BalancerOptions } from "../options.ts";
import { HostPool } from "./host_pool.ts";
import {
  type Rejection,
  Rejections,
  rejectionsFile,
} from "../../routing/rejections.ts";
import type { RenderInput } from "../render/render.ts";
import type { RouteTable, Server } from "../../routing/route_types.ts";
import type { RouteChanges } from "../../routing/routes.ts";
import { RoutedState } from "../../routing/routed.ts";
import {
  type HAProxyModel,
  type Modelled,
  modelOf,
  type SlotShape,
  slotShapes,
} from "./model.ts";
import { parseShape } from "../render/config_shape.ts";
import { GoneHosts } from "./gone_hosts.ts";
import { parseMapText } from "./pool.ts";
import { readOrNull } from "../../util/files.ts";
import { type Fresh, freshBackends } from "./fresh_backends.ts";
import { authTargets, type RoutedBackend } from "./auth_targets.ts";

/** One update's wanted state. */
export interface Desired {
  /** The route table as built, before pool backends: what `routes` shows. */
  readonly built: RouteTable;
  /** Every container the source has, listed when first asked for. */
  readonly all: () => readonly ContainerRecord[];
  /** The containers restarted by their policy, and those of them damped. */
  readonly looping: readonly ContainerRecord[];
  readonly damped: ReadonlySet<string>;
  /**
   * When to look again: a damped container may have settled, or a gone
   * host is to be forgotten; epoch ms.
   */
  readonly recheckAt: number | undefined;
  /** The HTTP routes of `table` that left and joined, when known. */
  readonly changes: RouteChanges | null;
  /** What the template renders. */
  readonly table: RouteTable & RenderInput;
  /** The maps and certificates. */
  readonly companions: Companions;
  /** A container's record as the source has it, if it has it. */
  readonly container: (id: string) => ContainerRecord | undefined;
  /** `table`, typed as HAProxy runs it. */
  readonly model: HAProxyModel;
}

/** Every backend with a route of its own, and that route. */
function* routedBackendsOf(
  table: RouteTable & RenderInput,
): Iterable<RoutedBackend & { servers: readonly Server[] }> {
  for (const route of table.routes) {
    if (!route.mapped) {
      yield { backend: route.backend, servers: route.servers, route };
    }
  }
  for (const slot of table.pool ?? []) {
    const route = slot.route;
    if (route !== null) {
      yield { backend: slot.backend, servers: route.servers, route };
    }
  }
}

/** The earliest of some times, epoch ms. */
function earliest(...times: (number | undefined)[]): number | undefined {
  const known = times.filter((time) => time !== undefined);
  return known.length === 0 ? undefined : Math.min(...known);
}

/** Builds the wanted state, keeping the pool and the rejected listeners between updates. */
export class DesiredState {
  readonly #options: BalancerOptions;
  readonly #rejections: Rejections;
  /** Which pool backend serves which plain host (pool.ts). */
  readonly #pool = new HostPool();
  #seeded = false;
  readonly #slotShape: SlotShape;
  /** The last table and its model, to build the next model from. */
  #modelled: Modelled | null = null;
  /** The route table, kept up to date container by container. */
  readonly #routed: RoutedState;
  readonly #journal: ChangeJournal | null;
  /** Hosts that lost their last route lately. */
  readonly #gone = new GoneHosts();
  #goneSeeded = false;
  /** The backends of containers just started, at the last update. */
  #fresh: Fresh | null = null;

  /**
   * With the source's `journal`, an update looks only at the containers
   * whose keys it gives; without, at every container.
   */
  constructor(
    options: BalancerOptions,
    journal: ChangeJournal | null = null,
  ) {
    this.#journal = journal;
    this.#options = options;
    this.#slotShape = slotShapes(
      (input) => options.renderer.render(input),
      (text) => parseShape(text).skeleton,
    );
    this.#rejections = new Rejections(
      options.dryRun ? null : rejectionsFile(options.apply.configFile),
    );
    this.#routed = new RoutedState(options.routes, this.#rejections, journal);
  }

  /** The wanted state for the source's containers as they are now. */
  async build(source: Pick<ContainerSource, "list">): Promise<Desired> {
    const options = this.#options;
    let listed: readonly ContainerRecord[] | null = null;
    // Listed once, and only when something needs every container.
    const all = () => listed ??= source.list();
    const now = Date.now();
    const {
      built,
      looping,
      damped,
      recheckAt: settles,
      changes: routeChanges,
      idle,
    } = await this.#routed.build(all, now);
    if (!this.#goneSeeded && options.maps?.gone !== undefined) {
      this.#goneSeeded = true;
      const installed = parseMapText(await readOrNull(options.maps.gone) ?? "");
      this.#gone.seed(installed.map(([host]) => host), now);
    }
    this.#gone.update(built.routes, routeChanges, now, idle);
    let table: RouteTable & RenderInput = built;
    let changes = routeChanges;
    let hostMaps;
    if (options.maps?.http !== undefined) {
      if (options.once && !this.#seeded) {
        this.#pool.seed(
          await installedPool(options.apply.configFile, options.maps),
        );
      }
      this.#seeded = true;
      const pooled = this.#pool.assign(built, changes);
      changes = changes === null ? null : this.#pool.changes;
      table = pooled;
      hostMaps = pooled.maps;
    }
    const journal = this.#journal;
    let byId: Map<string, ContainerRecord> | null = null;
    const container = journal !== null
      ? (id: string) => journal.get(id)
      : (id: string) => (byId ??= new Map(all().map((c) => [c.id, c]))).get(id);
    const fresh = this.#fresh = options.maps?.fresh === undefined
      ? null
      : freshBackends(routedBackendsOf(table), container, now, this.#fresh);
    const auth = options.maps?.auth === undefined ? [] : authTargets(
      routedBackendsOf(table),
      container,
      all,
      options.routes.network,
    );
    const companions = companionsFor(
      options,
      hostMaps,
      this.#gone.entries,
      fresh?.entries,
      auth,
    );
    if (companions.certs !== null) {
      table = { ...table, defaultCert: companions.certs.defaultCert.path };
    }
    const model = modelOf(table, this.#slotShape, this.#modelled ?? undefined);
    this.#modelled = { table, model };
    const recheckAt = earliest(settles, this.#gone.recheckAt, fresh?.recheckAt);
    return {
      built,
      table,
      changes,
      companions,
      model,
      container,
      all,
      looping,
      damped,
      recheckAt,
    };
  }

  /**
   * Takes note of the label listeners an error from HAProxy's start or
   * reload names; returns whether there were any (the next build leaves
   * them out).
   */
  trace(message: string, table: RouteTable): Promise<boolean> {
    return this.#rejections.trace(message, table, Date.now());
  }

  /** Takes note of routes `haproxy -c` refused: the next build leaves them out. */
  reject(rejections: readonly Rejection[]): Promise<void> {
    return this.#rejections.add(rejections);
  }

  /** Stops the source's journal. */
  close(): void {
    this.#routed.close();
  }
}
