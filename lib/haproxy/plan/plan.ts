/**
 * The planner, pure: from what HAProxy runs and what is wanted, what must
 * happen for HAProxy to run it: nothing, runtime commands for the admin
 * socket, or a reload and why. It compares typed models (model/model.ts);
 * a file whose model is not known (what HAProxy ran before this process,
 * or with an operator's template that renders more than server lines) is
 * read into one first, so files and models are planned by the same code.
 * What differs but `server` lines of backends both have is structural and
 * needs a reload; servers coming, going, moving or changing weight go
 * through the runtime API.
 *
 * @module
 */

import { DEFAULT_ROUTE_SETTINGS } from "../../routing/route_settings.ts";
import { sameItems } from "../../util/arrays.ts";
import type { RenderInput } from "../render/render.ts";
import {
  describeChange,
  type HAProxyModel,
  type ServerSpec,
} from "../model/model.ts";
import { mapOps } from "./map_ops.ts";
import type {
  CertChange,
  CompanionChanges,
  Plan,
  RuntimeOp,
} from "./plan_types.ts";
import {
  type ConfigShape,
  describeStructure,
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

const NO_SERVERS: ReadonlyMap<string, ServerSpec> = new Map();

/**
 * Compares the model HAProxy runs with the wanted one. `lines` renders the
 * backends named and returns their shape; it is called only when servers
 * join, with the backends they join. `describe` words a structural
 * difference for the reload's reason.
 */
export function planModel(
  running: HAProxyModel,
  next: HAProxyModel,
  changes: CompanionChanges,
  lines: (backends: ReadonlySet<string>) => ConfigShape,
  describe: (before: HAProxyModel, after: HAProxyModel) => string = (
    before,
    after,
  ) => describeChange(before.structure, after.structure),
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
    return { kind: "reload", reason: describe(running, next) };
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
      if (was.maxconn !== server.maxconn || was.options !== server.options) {
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

/**
 * A rendered file as a model: its structure is every line but the `server`
 * lines of backends, and each server keeps the arguments the runtime API
 * cannot change. Two such models compare as the files do.
 */
export function fileModel(shape: ConfigShape): HAProxyModel {
  const backends = new Map<string, ReadonlyMap<string, ServerSpec>>();
  for (const [backend, servers] of shape.servers) {
    const specs = new Map<string, ServerSpec>();
    for (const [name, line] of servers) {
      specs.set(name, {
        address: line.address,
        port: line.port,
        weight: line.weight,
        maxconn: 0,
        options: line.options.join(" "),
      });
    }
    backends.set(backend, specs);
  }
  return { structure: shape.skeleton, backends };
}

/**
 * Plans from the file HAProxy runs (`running`, or null when that is not
 * known) to a new rendering, each read as a model. `changes` are those of
 * the files the configuration reads: maps and certificates.
 */
export function planFiles(
  running: string | null,
  next: string,
  changes: CompanionChanges = {},
): Plan {
  if (running === null) {
    return { kind: "reload", reason: "the running configuration is not known" };
  }
  // The same text reads as the same model: only its companions can differ.
  // Without the runtime API this is every update that changes nothing.
  if (running === next) return ordered(companionOps(changes));
  const before = shapeOf(running);
  const after = shapeOf(next);
  return planModel(
    fileModel(before),
    fileModel(after),
    changes,
    () => after,
    () => describeStructure(before, after),
  );
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
 * they came; entries of a `first` map (hosts gone lately, fresh backends)
 * go in before anything. Removals before additions, so a name removed and
 * added again never collides.
 */
export function ordered(ops: readonly RuntimeOp[]): Plan {
  const rank = (op: RuntimeOp) => {
    switch (op.op) {
      case "cert-add":
        return 0;
      case "map":
        return op.value === null ? 1 : op.first ? 0 : 4;
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
  const plan = planFiles(render(probeTable(1)), render(probeTable(2)));
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
