/**
 * The planner: a pure function from the configuration HAProxy runs and the
 * newly rendered one to what must happen for HAProxy to run the new one:
 * nothing, a list of runtime commands for the admin socket, or a reload.
 *
 * It compares the rendered texts rather than the route tables, so whatever a
 * template renders (the built-in one or an operator's) is honoured: when the
 * two files differ only in `server` lines of backends both have, the
 * difference is membership and goes through the runtime API; any other
 * difference is structural and needs a reload.
 *
 * @module
 */

import { DEFAULT_ROUTE_SETTINGS } from "../../routing/route_settings.ts";
import { sameItems } from "../../util/arrays.ts";
import type { RenderInput } from "../render/render.ts";
import { mapOps } from "./map_ops.ts";
import type {
  CertChange,
  CompanionChanges,
  Plan,
  RuntimeOp,
} from "./plan_types.ts";
import {
  describeStructure,
  type ServerLine,
  shapeOf,
} from "../render/config_shape.ts";

function certOps(change: CertChange | undefined): RuntimeOp[] {
  if (change === undefined) return [];
  const before = new Set(change.before.map((cert) => cert.path));
  const after = new Set(change.after.map((cert) => cert.path));
  const { crtList } = change;
  return [
    ...change.after.filter((cert) => !before.has(cert.path)).map((
      cert,
    ): RuntimeOp => ({
      op: "cert-add",
      crtList,
      file: cert.path,
      pem: cert.pem,
    })),
    ...change.before.filter((cert) => !after.has(cert.path)).map((
      cert,
    ): RuntimeOp => ({ op: "cert-remove", crtList, file: cert.path })),
  ];
}

/** The map and certificate operations that `changes` take. */
export function companionOps(changes: CompanionChanges): RuntimeOp[] {
  return [
    ...(changes.maps ?? []).flatMap(mapOps),
    ...certOps(changes.certs),
  ];
}

/**
 * Compares what HAProxy runs (`running`, or null when that is not known)
 * with the new rendering and says what to do. `changes` are those of the
 * files the configuration reads: maps and certificates.
 */
export function planChange(
  running: string | null,
  next: string,
  changes: CompanionChanges = {},
): Plan {
  if (running === null) {
    return { kind: "reload", reason: "the running configuration is not known" };
  }
  const entries = companionOps(changes);
  if (running === next && entries.length === 0) return { kind: "none" };
  const before = shapeOf(running);
  const after = shapeOf(next);
  if (!sameItems(before.skeleton, after.skeleton)) {
    return { kind: "reload", reason: describeStructure(before, after) };
  }
  const ops: RuntimeOp[] = [];
  for (const [backend, servers] of after.servers) {
    const old = before.servers.get(backend) ?? new Map<string, ServerLine>();
    for (const [name, server] of servers) {
      const was = old.get(name);
      if (was === undefined) {
        const cookieKey = after.cookieKeys.get(backend);
        ops.push({
          op: "add",
          backend,
          server,
          ...(cookieKey === undefined ? {} : { cookieKey }),
        });
        continue;
      }
      if (!sameItems(was.options, server.options)) {
        return {
          kind: "reload",
          reason: `server ${backend}/${name} options changed`,
        };
      }
      ops.push(...memberOps(backend, name, was, server));
    }
    ops.push(...removedOps(backend, old.keys(), servers));
  }
  return ordered([...ops, ...entries]);
}

/** Where a server is and how much it takes: what the runtime API can change. */
interface Member {
  readonly address: string;
  readonly port: number;
  readonly weight: number;
}

/** The runtime operations that take a server of `backend` from `was` to `now`. */
export function memberOps(
  backend: string,
  name: string,
  was: Member,
  now: Member,
): RuntimeOp[] {
  const ops: RuntimeOp[] = [];
  if (was.address !== now.address || was.port !== now.port) {
    ops.push({
      op: "address",
      backend,
      server: name,
      address: now.address,
      port: now.port,
    });
  }
  if (was.weight !== now.weight) {
    ops.push({ op: "weight", backend, server: name, weight: now.weight });
  }
  return ops;
}

/** Removals of the servers of `backend` that `after` no longer has. */
export function removedOps(
  backend: string,
  before: Iterable<string>,
  after: ReadonlyMap<string, unknown>,
): RuntimeOp[] {
  const ops: RuntimeOp[] = [];
  for (const name of before) {
    if (!after.has(name)) ops.push({ op: "remove", backend, server: name });
  }
  return ops;
}

/**
 * Puts operations in the order HAProxy must get them. A certificate
 * arrives before the hosts it serves and leaves after its replacement
 * came. A host leaves a map before its servers go, and enters it after
 * they came; removals before additions, so a name removed and added again
 * never collides.
 */
export function ordered(ops: readonly RuntimeOp[]): Plan {
  const rank = (op: RuntimeOp) => {
    switch (op.op) {
      case "cert-add":
        return 0;
      case "map":
        return op.value === null ? 1 : 4;
      case "remove":
        return 2;
      case "cert-remove":
        return 5;
      default:
        return 3;
    }
  };
  const all = [...ops].sort((a, b) => rank(a) - rank(b));
  return all.length === 0 ? { kind: "none" } : { kind: "runtime", ops: all };
}

/** A route table with one host served by `servers` servers, for {@link templateFit}. */
function probeTable(servers: number): RenderInput {
  return {
    routes: [{
      host: "probe.invalid",
      prefix: "",
      settings: DEFAULT_ROUTE_SETTINGS,
      backend: "http_probe.invalid",
      servers: Array.from({ length: servers }, (_, i) => ({
        name: `probe-${i + 1}:80`,
        containerId: `probe-${i + 1}`,
        containerName: `probe-${i + 1}`,
        address: `192.0.2.${i + 1}`,
        port: 80,
        weight: 100,
        draining: false,
        maxconn: 0,
      })),
    }],
    tcpRoutes: [],
  };
}

/**
 * Whether a template lets membership change through the runtime API: a
 * server joining a host must change nothing but `server` lines; with the
 * host map (`pooled`), a host taking a spare pool backend must change
 * nothing outside that backend's section. Returns null when it does, or
 * why not.
 */
export function templateFit(
  render: (input: RenderInput) => string,
  pooled = false,
): string | null {
  const plan = planChange(render(probeTable(1)), render(probeTable(2)));
  if (plan.kind !== "runtime") {
    return plan.kind === "reload"
      ? plan.reason
      : "a new server changes nothing in the rendered file";
  }
  if (!pooled) return null;
  const [one] = probeTable(1).routes;
  const mapped = (host: string) => ({ ...one!, host, mapped: true });
  const [a, b] = [mapped("a.probe.invalid"), mapped("b.probe.invalid")];
  const outside = (table: RenderInput) =>
    shapeOf(render(table)).skeleton.filter((line) =>
      !line.startsWith("hosts_probe_2\t")
    ).join("\n");
  const before = outside({
    routes: [a],
    tcpRoutes: [],
    pool: [{ backend: "hosts_probe_1", route: a }, {
      backend: "hosts_probe_2",
      route: null,
    }],
  });
  const after = outside({
    routes: [a, b],
    tcpRoutes: [],
    pool: [{ backend: "hosts_probe_1", route: a }, {
      backend: "hosts_probe_2",
      route: b,
    }],
  });
  return before === after
    ? null
    : "a new host changes more than its pool backend";
}
