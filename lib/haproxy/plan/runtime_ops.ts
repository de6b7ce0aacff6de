/**
 * Runtime operations as admin-socket commands, and their effect on a running
 * HAProxy: sent in order, then checked against what HAProxy reports.
 *
 * @module
 */

import { lowerBound } from "../../util/arrays.ts";
import type { HostMap, RuntimeOp } from "./plan_types.ts";
import { type RuntimeApi, RuntimeError } from "../io/runtime.ts";

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

/** Up to this many backends changed are verified one by one. */
const FEW_BACKENDS = 8;

/**
 * Map entries per changed key above which the changed keys are looked up
 * one by one (a `get map` each) rather than the map listed whole: a
 * lookup costs about as much as listing a few hundred entries.
 */
const FEW_ENTRIES_PER_KEY = 256;

/** What HAProxy should hold after a runtime change, beyond the servers the operations name. */
export interface RuntimeExpectation {
  /** Every map file with the entries it should have. */
  readonly maps: readonly { file: string; entries: HostMap }[];
  /** The crt-list and the certificate paths it should list, with HTTPS. */
  readonly crtList?: {
    readonly file: string;
    readonly paths: readonly string[];
  };
}

/**
 * Sends the operations' commands in order, then asks HAProxy whether it
 * has what was asked: every server named, every map and the crt-list the
 * operations touched.
 *
 * @throws {RuntimeError} when a command fails or HAProxy's state differs.
 */
export async function applyOps(
  admin: RuntimeApi,
  ops: readonly RuntimeOp[],
  expected: RuntimeExpectation,
): Promise<void> {
  for (const op of ops) {
    for (const { command, ok, payload } of commandsFor(op)) {
      await admin.run(command, ok, payload);
    }
  }
  // A few backends are asked for by name: listing every server of a large
  // configuration would cost more than the change.
  const backends = new Set<string>();
  for (const op of ops) {
    if (op.op !== "map" && op.op !== "cert-add" && op.op !== "cert-remove") {
      backends.add(op.backend);
    }
  }
  const states = backends.size > FEW_BACKENDS
    ? await admin.servers()
    : (await Promise.all([...backends].map((b) => admin.servers(b)))).flat();
  const servers = new Map(states.map((s) => [`${s.backend}/${s.name}`, s]));
  for (const op of ops) {
    if (op.op === "map" || op.op === "cert-add" || op.op === "cert-remove") {
      continue;
    }
    const name = op.op === "add" ? op.server.name : op.server;
    const now = servers.get(`${op.backend}/${name}`);
    const off = now === undefined ? op.op !== "remove" : op.op === "remove" ||
      (op.op === "add" &&
        (now.address !== op.server.address ||
          now.port !== op.server.port ||
          now.weight !== op.server.weight)) ||
      (op.op === "address" &&
        (now.address !== op.address || now.port !== op.port)) ||
      (op.op === "weight" && now.weight !== op.weight);
    if (off) {
      throw new RuntimeError(
        `HAProxy reports server ${op.backend}/${name} as ${
          now === undefined
            ? "absent"
            : `${now.address}:${now.port} weight ${now.weight}`
        } after "${op.op}"`,
      );
    }
  }
  for (const { file, entries } of expected.maps) {
    const keys = ops.flatMap((op) =>
      op.op === "map" && op.file === file ? [op.key] : []
    );
    if (keys.length === 0) continue;
    // A large map is asked for the keys changed, one by one: listing it
    // whole after each new host would cost more than the change.
    const same = entries.length > keys.length * FEW_ENTRIES_PER_KEY
      ? await sameKeys(admin, file, keys, entries)
      : sameEntries(await admin.mapEntries(file), entries);
    if (!same) {
      throw new RuntimeError(
        `HAProxy's map ${file} differs from the plan after the change`,
      );
    }
  }
  const crtList = expected.crtList;
  if (
    crtList !== undefined &&
    ops.some((op) => op.op === "cert-add" || op.op === "cert-remove")
  ) {
    const has = (await admin.crtListEntries(crtList.file)).sort().join("\n");
    const want = [...crtList.paths].sort().join("\n");
    if (has !== want) {
      throw new RuntimeError(
        `HAProxy's crt-list ${crtList.file} differs from the plan after the change`,
      );
    }
  }
}

/**
 * Whether HAProxy has the planned value (or none) for each of `keys`; the
 * planned entries are sorted by key, as the pool keeps them.
 */
async function sameKeys(
  admin: RuntimeApi,
  file: string,
  keys: readonly string[],
  want: readonly (readonly [string, string])[],
): Promise<boolean> {
  for (const key of keys) {
    const at = lowerBound(want, ([k]) => k < key);
    const planned = want[at]?.[0] === key ? want[at]![1] : null;
    if ((await admin.mapEntry(file, key)) !== planned) return false;
  }
  return true;
}

/**
 * Whether HAProxy's map holds the planned entries, in whatever order it
 * lists them: looked up, not sorted, since a large map is checked after
 * every new host.
 */
function sameEntries(
  has: readonly (readonly [string, string])[],
  want: readonly (readonly [string, string])[],
): boolean {
  if (has.length !== want.length) return false;
  const values = new Map(has);
  return values.size === has.length &&
    want.every(([key, value]) => values.get(key) === value);
}

/** Runtime operations in a few words, for the log: "1 server added, 2 map entries set". */
export function summarize(ops: readonly RuntimeOp[]): string {
  const counts = new Map<string, number>();
  for (const op of ops) {
    const what = op.op === "map"
      ? `map entr* ${op.value === null ? "removed" : "set"}`
      : op.op === "cert-add"
      ? "certificate* added"
      : op.op === "cert-remove"
      ? "certificate* removed"
      : `server* ${
        {
          add: "added",
          remove: "removed",
          weight: "reweighted",
          address: "moved",
        }[op.op]
      }`;
    counts.set(what, (counts.get(what) ?? 0) + 1);
  }
  return [...counts].map(([what, n]) =>
    `${n} ${
      what.replace("entr*", n === 1 ? "entry" : "entries").replace(
        "*",
        n === 1 ? "" : "s",
      )
    }`
  ).join(", ");
}
