/**
 * The backends whose servers all belong to containers started moments ago:
 * HAProxy holds a request for one of them until a server accepts
 * connections (`glue_wait_listening` in templates/glue.lua), instead of
 * meeting a server that does not listen yet and waiting a second to try
 * it again. A backend with an older server needs no wait: a refused
 * request goes to that one at once. Pure.
 *
 * @module
 */

import type { ContainerRecord } from "../../docker/container.ts";
import type { Server } from "../../routing/route_types.ts";
import type { HostMap } from "../plan/plan_types.ts";
import { compare } from "../../routing/route_groups.ts";
import { hostPort } from "../../util/net_address.ts";

/** How long after its start a container's backend is held for it. */
export const FRESH_MS = 10_000;

/** The fresh backends of one update, and when the first stops being fresh. */
export interface Fresh {
  /**
   * Map entries, sorted: each fresh backend and its servers' addresses
   * (`ip:port`, `[ipv6]:port`), comma-separated, for HAProxy's Lua to try:
   * it cannot see servers added at runtime.
   */
  readonly entries: HostMap;
  /** When the first of them is no longer fresh, epoch ms. */
  readonly recheckAt: number | undefined;
}

/**
 * The fresh backends among `backends` (name and servers) at `now`;
 * `container` gives a server's container record. `last` is given back when
 * the entries are the same, so the planner sees no change.
 */
export function freshBackends(
  backends: Iterable<
    { readonly backend: string; readonly servers: readonly Server[] }
  >,
  container: (id: string) => ContainerRecord | undefined,
  now: number,
  last: Fresh | null,
  freshMs = FRESH_MS,
): Fresh {
  const entries: [string, string][] = [];
  let recheckAt: number | undefined;
  for (const { backend, servers } of backends) {
    if (servers.length === 0) continue;
    let until = Infinity;
    for (const server of servers) {
      const started = Date.parse(
        container(server.containerId)?.startedAt ?? "",
      );
      const fresh = started + freshMs;
      if (!(fresh > now)) {
        until = -Infinity;
        break;
      }
      until = Math.min(until, fresh);
    }
    if (until === -Infinity) continue;
    // A server draining (its container stopping) takes no new request.
    const addresses = servers.filter((server) => !server.draining).map((
      { address, port },
    ) => hostPort(address, port));
    if (addresses.length === 0) continue;
    entries.push([backend, addresses.join(",")]);
    recheckAt = Math.min(recheckAt ?? until, until);
  }
  entries.sort(([a], [b]) => compare(a, b));
  const same = last !== null && last.entries.length === entries.length &&
    last.entries.every(([key, value], i) =>
      key === entries[i]![0] && value === entries[i]![1]
    );
  return { entries: same ? last.entries : entries, recheckAt };
}
