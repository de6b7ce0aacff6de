/**
 * The planner over typed state: from the model HAProxy runs and the one
 * wanted, what must happen: nothing, runtime operations, or a reload. The
 * whole file is not rendered for this; only the `server` lines of servers
 * to add are, through a small rendering of their backends, so that `add
 * server` gets what the template gives them (an operator's template
 * included). Pure but for that rendering, which the caller passes in.
 *
 * @module
 */

import type { ConfigShape } from "../render/config_shape.ts";
import { sameItems } from "../../util/arrays.ts";
import {
  describeChange,
  type HAProxyModel,
  type ServerSpec,
} from "../model/model.ts";
import {
  type CompanionChanges,
  type Plan,
  type RuntimeOp,
} from "./plan_types.ts";
import { companionOps, memberOps, ordered, removedOps } from "./plan.ts";

const NO_SERVERS: ReadonlyMap<string, ServerSpec> = new Map();

/**
 * Compares the model HAProxy runs with the wanted one. `lines` renders the
 * backends named and returns their shape; it is called only when servers
 * join, with the backends they join.
 */
export function planModel(
  running: HAProxyModel,
  next: HAProxyModel,
  changes: CompanionChanges,
  lines: (backends: ReadonlySet<string>) => ConfigShape,
): Plan {
  // Made from the running model: only the places and backends it names
  // can differ.
  const changed = next.changed?.from === running ? next.changed : null;
  const same = changed === null
    ? sameItems(running.structure, next.structure)
    : changed.structure.every((i) =>
      running.structure[i] === next.structure[i]
    );
  if (!same) {
    return {
      kind: "reload",
      reason: describeChange(running.structure, next.structure),
    };
  }
  const ops: RuntimeOp[] = [];
  const added: [string, string][] = [];
  const backends = changed === null
    ? next.backends
    : [...changed.backends].map((backend) =>
      [backend, next.backends.get(backend) ?? NO_SERVERS] as const
    );
  for (const [backend, servers] of backends) {
    const old = running.backends.get(backend) ?? NO_SERVERS;
    if (old === servers) continue;
    for (const [name, server] of servers) {
      const was = old.get(name);
      if (was === undefined) {
        added.push([backend, name]);
        continue;
      }
      if (was.maxconn !== server.maxconn) {
        return {
          kind: "reload",
          reason: `server ${backend}/${name} options changed`,
        };
      }
      ops.push(...memberOps(backend, name, was, server));
    }
    ops.push(...removedOps(backend, old.keys(), servers));
  }
  if (added.length > 0) {
    const shape = lines(new Set(added.map(([backend]) => backend)));
    for (const [backend, name] of added) {
      const server = shape.servers.get(backend)?.get(name);
      if (server === undefined) {
        return {
          kind: "reload",
          reason: `the template renders no server line for ${backend}/${name}`,
        };
      }
      const cookieKey = shape.cookieKeys.get(backend);
      ops.push({
        op: "add",
        backend,
        server,
        ...(cookieKey === undefined ? {} : { cookieKey }),
      });
    }
  }
  return ordered([...ops, ...companionOps(changes)]);
}
