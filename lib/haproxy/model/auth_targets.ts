/**
 * Where each backend with forward auth asks about its requests, as a map
 * HAProxy's Lua reads (`glue_forward_auth` in templates/glue.lua): the
 * backend's name to `address:port/path`. A container target is followed
 * through the runtime API as its address changes; while it does not run,
 * its backends have no entry and answer 503, never letting a request
 * through unasked. Pure.
 *
 * @module
 */

import type { ContainerRecord } from "../../docker/container.ts";
import type { AuthTarget } from "../../routing/forward_auth.ts";
import { pickAddress } from "../../routing/address.ts";
import type { HttpRoute, Server } from "../../routing/route_types.ts";
import { compare } from "../../routing/route_groups.ts";
import { hostPort } from "../../util/net_address.ts";
import type { HostMap } from "../plan/plan_types.ts";

/** A backend and the route it serves. */
export interface RoutedBackend {
  readonly backend: string;
  readonly route: Pick<HttpRoute, "settings" | "servers">;
}

/**
 * The map entries of the backends whose route has forward auth. `container`
 * gives a server's record; `named` lists the containers a container target
 * may be (all of them: a target need not be routed itself); `network` is
 * `--network`.
 */
export function authTargets(
  backends: Iterable<RoutedBackend>,
  container: (id: string) => ContainerRecord | undefined,
  named: () => readonly ContainerRecord[],
  network: string | undefined,
): HostMap {
  const entries: [string, string][] = [];
  let byName: Map<string, ContainerRecord[]> | null = null;
  for (const { backend, route } of backends) {
    const target = route.settings.forwardAuth;
    if (target === null) continue;
    const resolved = resolve(
      target,
      route.servers,
      container,
      () => byName ??= index(named()),
      network,
    );
    if (resolved !== null) entries.push([backend, resolved]);
  }
  return entries.sort(([a], [b]) => compare(a, b));
}

function index(
  records: readonly ContainerRecord[],
): Map<string, ContainerRecord[]> {
  const out = new Map<string, ContainerRecord[]>();
  for (const record of records) {
    const list = out.get(record.name);
    if (list === undefined) out.set(record.name, [record]);
    else list.push(record);
  }
  return out;
}

function resolve(
  target: AuthTarget,
  servers: readonly Server[],
  container: (id: string) => ContainerRecord | undefined,
  byName: () => Map<string, ContainerRecord[]>,
  network: string | undefined,
): string | null {
  if (target.kind === "address") {
    return hostPort(target.address, target.port) + target.path;
  }
  // The same engine as the route's containers: a name means nothing on
  // another host's.
  const first = servers[0];
  if (first === undefined) return null;
  const engine = container(first.containerId)?.host?.id;
  const found = (byName().get(target.name) ?? []).find((record) =>
    record.host?.id === engine && record.running && !record.paused &&
    record.stopping !== true
  );
  if (found === undefined) return null;
  try {
    const choice = pickAddress(
      found,
      found.labels["glue_network"],
      network,
      found.labels["glue_ipv6"] === "1",
    );
    return hostPort(choice.address, target.port) + target.path;
  } catch {
    // A target without an address cannot be asked: its backends answer 503.
    return null;
  }
}
