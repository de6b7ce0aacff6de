/**
 * Forward auth, read from labels: where HAProxy asks whether a request may
 * pass (`forward_auth`), which headers of a yes it copies into the request
 * (`forward_auth_headers`) and how long it waits (`forward_auth_timeout`).
 * HAProxy's Lua asks at request time and cannot look a name up then, so a
 * target is an address, or a container of the same engine whose address
 * docker-balancer follows. Pure.
 *
 * @module
 */

import { quoteValue } from "./labels.ts";
import { hostPort, isIPv4, isIPv6 } from "../util/net_address.ts";
import { durationMs } from "../util/duration.ts";
import { parseHeaderName } from "./route_options.ts";

/** Where a route's requests are asked about. */
export type AuthTarget =
  | {
    readonly kind: "address";
    /** IPv4 or IPv6 address, as written (IPv6 without brackets). */
    readonly address: string;
    readonly port: number;
    /** Path and query, starting with `/`. */
    readonly path: string;
  }
  | {
    readonly kind: "container";
    /** A container's name on the same engine. */
    readonly name: string;
    readonly port: number;
    readonly path: string;
  };

/** The headers copied from a yes when the label names none: Authelia's, Authentik's and oauth2-proxy's user headers. */
export const DEFAULT_AUTH_HEADERS: readonly string[] = [
  "Remote-User",
  "Remote-Groups",
  "Remote-Email",
  "Remote-Name",
];

/** How long HAProxy waits for the answer when the label does not say. */
export const DEFAULT_AUTH_TIMEOUT_MS = 5000;

const CONTAINER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
// Path and query as sent on the request line: printable ASCII without
// space, quotes, backslash or the characters HAProxy's parser reads in a
// map value.
const PATH = /^\/[A-Za-z0-9\-._~!$&'()*+,;=:@/?%]{0,1023}$/;
const MAX_HEADERS = 16;

function parsePort(text: string, value: string): number {
  if (!/^[1-9][0-9]{0,4}$/.test(text) || Number(text) > 65535) {
    throw new RangeError(
      `Invalid forward_auth ${quoteValue(value)}: the port is 1 to 65535`,
    );
  }
  return Number(text);
}

function parsePath(text: string, value: string): string {
  const path = text === "" ? "/" : text;
  if (!PATH.test(path)) {
    throw new TypeError(
      `Invalid forward_auth ${
        quoteValue(value)
      }: the path takes letters, digits and -._~!$&'()*+,;=:@/?% only`,
    );
  }
  return path;
}

/**
 * Parses `http://<address>[:<port>]/<path>` (an IPv6 address in brackets)
 * or `container:<name>:<port>[/<path>]`. A host name is refused: HAProxy's
 * Lua cannot resolve one at request time.
 */
export function parseForwardAuth(value: string): AuthTarget {
  const container = /^container:([^:/]*):([^/]*)(\/[\s\S]*)?$/.exec(value);
  if (container !== null) {
    const name = container[1]!;
    if (!CONTAINER_NAME.test(name)) {
      throw new TypeError(
        `Invalid forward_auth ${
          quoteValue(value)
        }: expected a container name of letters, digits and _.- after container:`,
      );
    }
    return {
      kind: "container",
      name,
      port: parsePort(container[2]!, value),
      path: parsePath(container[3] ?? "", value),
    };
  }
  const url = /^http:\/\/(\[[^\]]*\]|[^:/]*)(?::([^/]*))?(\/[\s\S]*)?$/.exec(
    value,
  );
  if (url === null) {
    throw new TypeError(
      `Invalid forward_auth ${
        quoteValue(value)
      }: expected http://<address>:<port>/<path> or container:<name>:<port>/<path>`,
    );
  }
  const host = url[1]!;
  const address = host.startsWith("[") ? host.slice(1, -1) : host;
  if (
    host.startsWith("[") ? !isIPv6(address) : !isIPv4(address)
  ) {
    throw new TypeError(
      `Invalid forward_auth ${
        quoteValue(value)
      }: HAProxy cannot look up a host name at request time; give an IP address or container:<name>:<port>`,
    );
  }
  return {
    kind: "address",
    address: address.toLowerCase(),
    port: url[2] === undefined ? 80 : parsePort(url[2], value),
    path: parsePath(url[3] ?? "", value),
  };
}

/** Parses the comma list of headers a yes may set on the request. */
export function parseForwardAuthHeaders(value: string): string[] {
  const names = value.split(",").map((name) => name.trim()).filter((name) =>
    name !== ""
  );
  if (names.length === 0 || names.length > MAX_HEADERS) {
    throw new RangeError(
      `Invalid forward_auth_headers ${
        quoteValue(value)
      }: expected 1 to ${MAX_HEADERS} header names, comma-separated`,
    );
  }
  const seen = new Set<string>();
  const out: string[] = [];
  for (const name of names) {
    const checked = parseHeaderName(name);
    const lower = checked.toLowerCase();
    if (lower === "cookie" || lower === "authorization") {
      // The auth service's answer must not replace the client's credentials.
      throw new TypeError(
        `Invalid forward_auth_headers: ${checked} is the client's own credential`,
      );
    }
    if (seen.has(lower)) continue;
    seen.add(lower);
    out.push(checked);
  }
  return out;
}

/** Parses how long to wait for the auth service: 100 ms to 60 s. */
export function parseForwardAuthTimeout(value: string): number {
  const ms = /^[1-9][0-9]{0,5}(ms|s)$/.test(value)
    ? durationMs(value) ?? NaN
    : NaN;
  if (!(ms >= 100 && ms <= 60_000)) {
    throw new RangeError(
      `Invalid forward_auth_timeout ${
        quoteValue(value)
      }: expected a duration such as 500ms or 5s, from 100 ms to 60 s`,
    );
  }
  return ms;
}

/** A target as a label would give it. */
export function shownTarget(target: AuthTarget): string {
  return target.kind === "container"
    ? `container:${target.name}:${target.port}${target.path}`
    : `http://${hostPort(target.address, target.port)}${target.path}`;
}
