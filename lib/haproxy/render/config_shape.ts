/**
 * A rendered configuration split into what the runtime API can change (the
 * backends' `server` lines) and what it cannot (everything else): the
 * planner compares two of these. Pure.
 *
 * @module
 */

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
  // The engine plans each rendering against the one before it: the shape
  // of what runs was computed by the previous plan.
  const known = recentShapes.find(([seen]) => seen === text)?.[1];
  if (known !== undefined) return known;
  const shape = parseShape(text);
  recentShapes.unshift([text, shape]);
  recentShapes.length = Math.min(recentShapes.length, 2);
  return shape;
}

/** The last shapes parsed, newest first. */
const recentShapes: [string, ConfigShape][] = [];

/**
 * A line without its comment: from a `#` at the start or after white space,
 * outside quotes and not escaped. A `#` inside a quoted header value is
 * part of the value, and a change after it is a change.
 */
export function withoutComment(raw: string): string {
  let quote: string | null = null;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (c === "\\" && quote !== "'") {
      i++; // the next character is taken as it is
    } else if (quote !== null) {
      if (c === quote) quote = null;
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === "#" && (i === 0 || /\s/.test(raw[i - 1]!))) {
      return raw.slice(0, i);
    }
  }
  return raw;
}

/** Splits a configuration like {@link shapeOf}, without keeping it. */
export function parseShape(text: string): ConfigShape {
  const skeleton: string[] = [];
  const sections: string[] = [];
  const servers = new Map<string, Map<string, ServerLine>>();
  const cookieKeys = new Map<string, string>();
  let defaultsArgs: string[] = [];
  let inDefaults = false;
  let backend: string | null = null;
  let backendArgs: string[] = [];
  for (const raw of text.split("\n")) {
    const line = withoutComment(raw).trim();
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

/** Names the first structural difference between two shapes, for a reload's reason. */
export function describeStructure(
  before: ConfigShape,
  after: ConfigShape,
): string {
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
