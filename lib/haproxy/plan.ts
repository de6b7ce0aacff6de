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

import { DEFAULT_ROUTE_SETTINGS } from "./claims.ts";
import type { RenderInput } from "./render.ts";

/** One `server` line of a backend, parsed. */
export interface ServerLine {
  /** Server name. */
  readonly name: string;
  /** Address as written, without the port. */
  readonly address: string;
  /** Port. */
  readonly port: number;
  /** `weight` as written, or 1 (HAProxy's default). */
  readonly weight: number;
  /** Arguments after the address, as written, without `weight N`. */
  readonly options: readonly string[];
  /**
   * Arguments for `add server`: the `default-server` arguments in force
   * (dynamic servers do not inherit them), then the line's own.
   */
  readonly addArgs: readonly string[];
}

/** A configuration split into what the runtime API can change and what it cannot. */
export interface ConfigShape {
  /** Every line except backend `server` lines, comments and blank lines. */
  readonly skeleton: readonly string[];
  /** Section headers in order, for naming what changed. */
  readonly sections: readonly string[];
  /** Servers by backend, then by name. */
  readonly servers: ReadonlyMap<string, ReadonlyMap<string, ServerLine>>;
  /** `dynamic-cookie-key` of backends with cookie persistence. */
  readonly cookieKeys: ReadonlyMap<string, string>;
}

/** A change the admin socket can make. */
export type RuntimeOp =
  | {
    readonly op: "add";
    readonly backend: string;
    readonly server: ServerLine;
    /**
     * The backend's cookie key, when it has cookie persistence: setting it
     * again gives the new server its cookie value.
     */
    readonly cookieKey?: string;
  }
  | {
    readonly op: "remove";
    readonly backend: string;
    readonly server: string;
  }
  | {
    readonly op: "weight";
    readonly backend: string;
    readonly server: string;
    readonly weight: number;
  }
  | {
    readonly op: "address";
    readonly backend: string;
    readonly server: string;
    readonly address: string;
    readonly port: number;
  }
  | {
    readonly op: "map";
    /** The map file, as the configuration names it. */
    readonly file: string;
    readonly key: string;
    /** The new value, or null to remove the entry. */
    readonly value: string | null;
    /** Whether the key had an entry before. */
    readonly existed: boolean;
  }
  | {
    readonly op: "cert-add";
    /** The crt-list the certificate joins. */
    readonly crtList: string;
    /** The certificate's file, as the crt-list names it. */
    readonly file: string;
    /** Certificate chain and key, PEM, with no blank lines. */
    readonly pem: string;
  }
  | {
    readonly op: "cert-remove";
    readonly crtList: string;
    readonly file: string;
  };

/** Map entries: key and value. */
export type HostMap = readonly (readonly [string, string])[];

/** A map file's entries before and after, for {@link planChange}. */
export interface MapChange {
  /** The map file, as the configuration names it. */
  readonly file: string;
  /** Entries HAProxy has. */
  readonly before: HostMap;
  /** Entries it should have. */
  readonly after: HostMap;
}

/** A certificate file HAProxy serves: its path names its content. */
export interface CertFile {
  /** Path, as the crt-list names it. */
  readonly path: string;
  /** Certificate chain and key, PEM. */
  readonly pem: string;
}

/** The certificates of a crt-list before and after, for {@link planChange}. */
export interface CertChange {
  /** The crt-list file, as the configuration names it. */
  readonly crtList: string;
  /** Certificates HAProxy has. */
  readonly before: readonly CertFile[];
  /** Certificates it should have. */
  readonly after: readonly CertFile[];
}

/** What changes besides the configuration text. */
export interface CompanionChanges {
  /** Map files. */
  readonly maps?: readonly MapChange[];
  /** The HTTPS frontend's certificates. */
  readonly certs?: CertChange;
}

/** What it takes for HAProxy to run the new configuration. */
export type Plan =
  | { readonly kind: "none" }
  | { readonly kind: "runtime"; readonly ops: readonly RuntimeOp[] }
  | { readonly kind: "reload"; readonly reason: string };

const SECTION =
  /^(global|defaults|frontend|backend|listen|peers|resolvers|userlist|mailers|program|http-errors|ring|cache)\b/;
const SERVER_SECTION = /^(backend|listen)\s+(\S+)/;

function splitAddress(text: string): { address: string; port: number } | null {
  const colon = text.lastIndexOf(":");
  if (colon <= 0) return null;
  const port = Number(text.slice(colon + 1));
  if (!Number.isInteger(port) || port <= 0 || port > 65535) return null;
  return { address: text.slice(0, colon).replace(/^\[(.*)\]$/, "$1"), port };
}

function parseServer(
  words: readonly string[],
  defaults: readonly string[],
): ServerLine | null {
  const [, name, where, ...rest] = words;
  if (name === undefined || where === undefined) return null;
  const target = splitAddress(where);
  if (target === null) return null;
  let weight = 1;
  const options: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const word = rest[i] as string;
    if (word === "weight" && rest[i + 1] !== undefined) {
      weight = Number(rest[++i]);
      continue;
    }
    options.push(word);
  }
  return {
    name,
    ...target,
    weight,
    options,
    addArgs: [...defaults, ...rest],
  };
}

/**
 * Splits a configuration into its skeleton and its backends' servers.
 * Comments and blank lines are dropped; a server line that cannot be parsed
 * stays in the skeleton, so changing it counts as structural.
 */
export function shapeOf(text: string): ConfigShape {
  const skeleton: string[] = [];
  const sections: string[] = [];
  const servers = new Map<string, Map<string, ServerLine>>();
  const cookieKeys = new Map<string, string>();
  let defaultsArgs: string[] = [];
  let inDefaults = false;
  let backend: string | null = null;
  let backendArgs: string[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.replace(/(^|\s)#.*$/, "").trim();
    if (line === "") continue;
    const words = line.split(/\s+/);
    if (!/^\s/.test(raw) && SECTION.test(line)) {
      sections.push(line);
      inDefaults = words[0] === "defaults";
      if (inDefaults) defaultsArgs = [];
      backend = SERVER_SECTION.exec(line)?.[2] ?? null;
      backendArgs = [];
      if (backend !== null && !servers.has(backend)) {
        servers.set(backend, new Map());
      }
      skeleton.push(line);
      continue;
    }
    if (words[0] === "default-server") {
      if (inDefaults) defaultsArgs.push(...words.slice(1));
      else backendArgs.push(...words.slice(1));
    }
    if (words[0] === "dynamic-cookie-key" && backend !== null) {
      cookieKeys.set(backend, words[1] ?? "");
    }
    if (words[0] === "server" && backend !== null) {
      const server = parseServer(words, [...defaultsArgs, ...backendArgs]);
      const map = servers.get(backend);
      if (server !== null && map !== undefined && !map.has(server.name)) {
        map.set(server.name, server);
        continue;
      }
    }
    skeleton.push(`${backend ?? ""}\t${line}`);
  }
  return { skeleton, sections, servers, cookieKeys };
}

function describeStructure(before: ConfigShape, after: ConfigShape): string {
  const old = new Set(before.sections);
  const now = new Set(after.sections);
  const added = after.sections.filter((s) => !old.has(s));
  const removed = before.sections.filter((s) => !now.has(s));
  if (added.length > 0 || removed.length > 0) {
    return [
      ...added.map((s) => `${s} added`),
      ...removed.map((s) => `${s} removed`),
    ].slice(0, 3).join(", ") +
      (added.length + removed.length > 3 ? ", ..." : "");
  }
  const n = Math.min(before.skeleton.length, after.skeleton.length);
  for (let i = 0; i < n; i++) {
    if (before.skeleton[i] !== after.skeleton[i]) {
      return `line changed: ${
        JSON.stringify((after.skeleton[i] ?? "").replace(/^[^\t]*\t/, ""))
      }`;
    }
  }
  return before.skeleton.length < after.skeleton.length
    ? `line added: ${
      JSON.stringify(
        (after.skeleton[n] ?? "").replace(/^[^\t]*\t/, ""),
      )
    }`
    : `line removed: ${
      JSON.stringify((before.skeleton[n] ?? "").replace(/^[^\t]*\t/, ""))
    }`;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((value, i) => value === b[i]);
}

function mapOps(change: MapChange): RuntimeOp[] {
  const before = new Map(change.before);
  const after = new Map(change.after);
  const ops: RuntimeOp[] = [];
  for (const [key, value] of after) {
    const was = before.get(key);
    if (was === value) continue;
    ops.push({
      op: "map",
      file: change.file,
      key,
      value,
      existed: was !== undefined,
    });
  }
  for (const key of before.keys()) {
    if (!after.has(key)) {
      ops.push({
        op: "map",
        file: change.file,
        key,
        value: null,
        existed: true,
      });
    }
  }
  return ops;
}

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
  const entries = [
    ...(changes.maps ?? []).flatMap(mapOps),
    ...certOps(changes.certs),
  ];
  if (running === next && entries.length === 0) return { kind: "none" };
  const before = shapeOf(running);
  const after = shapeOf(next);
  if (!sameList(before.skeleton, after.skeleton)) {
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
      if (!sameList(was.options, server.options)) {
        return {
          kind: "reload",
          reason: `server ${backend}/${name} options changed`,
        };
      }
      if (was.address !== server.address || was.port !== server.port) {
        ops.push({
          op: "address",
          backend,
          server: name,
          address: server.address,
          port: server.port,
        });
      }
      if (was.weight !== server.weight) {
        ops.push({
          op: "weight",
          backend,
          server: name,
          weight: server.weight,
        });
      }
    }
    for (const name of old.keys()) {
      if (!servers.has(name)) ops.push({ op: "remove", backend, server: name });
    }
  }
  // A certificate arrives before the hosts it serves and leaves after its
  // replacement came. A host leaves a map before its servers go, and
  // enters it after they came; removals before additions, so a name
  // removed and added again never collides.
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
  const all = [...ops, ...entries].sort((a, b) => rank(a) - rank(b));
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
 * server joining a host must change nothing but `server` lines. Returns
 * null when it does, or why not.
 */
export function templateFit(
  render: (input: RenderInput) => string,
): string | null {
  const plan = planChange(render(probeTable(1)), render(probeTable(2)));
  if (plan.kind === "runtime") return null;
  return plan.kind === "reload"
    ? plan.reason
    : "a new server changes nothing in the rendered file";
}

/** One admin-socket command and the answers that mean it worked. */
export interface Command {
  /** The command line. */
  readonly command: string;
  /** Matches HAProxy's whole (trimmed) answer when the command worked. */
  readonly ok: RegExp;
  /** Lines sent after the command (`<<`), ended by an empty line. */
  readonly payload?: string;
}

const SUCCESS = /(^|\n)Success!$/;

const EMPTY = /^$/;

/** The admin-socket commands that carry out one operation, in order. */
export function commandsFor(op: RuntimeOp): Command[] {
  switch (op.op) {
    case "map":
      return [{
        command: op.value === null
          ? `del map ${op.file} ${op.key}`
          : `${
            op.existed ? "set" : "add"
          } map ${op.file} ${op.key} ${op.value}`,
        ok: EMPTY,
      }];
    case "cert-add":
      return [
        {
          command: `new ssl cert ${op.file}`,
          ok: /^New empty certificate store '.*'!$/,
        },
        {
          command: `set ssl cert ${op.file}`,
          payload: op.pem,
          ok: /^Transaction (created|updated) for certificate .*!$/,
        },
        { command: `commit ssl cert ${op.file}`, ok: SUCCESS },
        { command: `add ssl crt-list ${op.crtList} ${op.file}`, ok: SUCCESS },
      ];
    case "cert-remove":
      return [
        {
          command: `del ssl crt-list ${op.crtList} ${op.file}`,
          ok: /^Entry '.*' deleted in crtlist '.*'!$/,
        },
        {
          command: `del ssl cert ${op.file}`,
          ok: /^Certificate '.*' deleted!$/,
        },
      ];
  }
  const id = `${op.backend}/${op.op === "add" ? op.server.name : op.server}`;
  switch (op.op) {
    case "add":
      return [
        {
          // Written as the template writes it: HAProxy reads the port after
          // the last colon, also for an IPv6 address.
          command: `add server ${id} ${op.server.address}:${op.server.port} ${
            op.server.addArgs.join(" ")
          }`.trimEnd(),
          ok: /^New server registered\.$/,
        },
        // A dynamic server starts in maintenance with its checks off.
        ...(op.server.options.includes("check")
          ? [{ command: `enable health ${id}`, ok: EMPTY }]
          : []),
        // Dynamic servers get no cookie value until the key is set again.
        ...(op.cookieKey === undefined ? [] : [{
          command:
            `set dynamic-cookie-key backend ${op.backend} ${op.cookieKey}`,
          ok: EMPTY,
        }]),
        { command: `set server ${id} state ready`, ok: EMPTY },
      ];
    case "remove":
      // del server needs maintenance and no connections; the container is
      // gone or going, so what is left of its connections is cut.
      return [
        { command: `set server ${id} state maint`, ok: EMPTY },
        { command: `shutdown sessions server ${id}`, ok: EMPTY },
        { command: `del server ${id}`, ok: /^Server deleted\.$/ },
      ];
    case "weight":
      return [{ command: `set server ${id} weight ${op.weight}`, ok: EMPTY }];
    case "address":
      return [{
        command: `set server ${id} addr ${op.address} port ${op.port}`,
        ok: /^(IP changed|no need to change the addr|port changed)/,
      }];
  }
}
