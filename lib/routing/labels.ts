/**
 * Validators for the values of `glue_*` labels. Each returns the normalized
 * value or throws with a message that quotes the bad value; callers add the
 * container and label name. Anything these accept is safe to place in
 * haproxy.cfg unquoted: no whitespace, quotes, `#`, `$`, `\` or control
 * characters can pass.
 *
 * @module
 */

import { MAX_HOSTS } from "./route_limits.ts";

const MAX_SHOWN = 60;

/** Quotes a label value for an error message, escaping control characters and shortening long values. */
export function quoteValue(value: string): string {
  const shown = value.length > MAX_SHOWN
    ? `${value.slice(0, MAX_SHOWN)}...`
    : value;
  return JSON.stringify(shown);
}

/** Parses a TCP port number (1-65535) written in plain decimal without leading zeros. */
export function parsePort(value: string): number {
  if (!/^[1-9][0-9]{0,4}$/.test(value) || Number(value) > 65535) {
    throw new RangeError(
      `Invalid port ${quoteValue(value)}: expected an integer from 1 to 65535`,
    );
  }
  return Number(value);
}

/** Parses a comma-separated list of ports, dropping duplicates. */
export function parsePortList(value: string): number[] {
  const ports = value.split(",").map((part) => parsePort(part.trim()));
  return [...new Set(ports)];
}

const HOST_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * Parses one host name: an RFC 1123 name, optionally starting with `*.` to
 * match any subdomain; an IP address is refused. Returned in lower case, since Host matching is
 * case-insensitive. A trailing dot (fully qualified form) is dropped.
 */
export function parseHost(value: string): string {
  const host = value.toLowerCase().replace(/\.$/, "");
  const bare = host.startsWith("*.") ? host.slice(2) : host;
  const labels = bare.split(".");
  // A name whose last label is all digits is an IPv4 address (or none):
  // no top-level domain is numeric, and a Host of an address is no route.
  const valid = bare.length > 0 && bare.length <= 253 &&
    labels.every((label) => HOST_LABEL.test(label)) &&
    !/^[0-9]+$/.test(labels[labels.length - 1] ?? "");
  if (!valid) {
    throw new TypeError(
      `Invalid host ${
        quoteValue(value)
      }: expected a DNS name such as "www.example.com" or "*.example.com"`,
    );
  }
  return host;
}

/**
 * Whether a route's host is one exact name: not the default route's "" and
 * not a wildcard. Only such a host is looked up by name (host maps, the
 * hosts gone lately).
 */
export function isExactHost(host: string): boolean {
  return host !== "" && !host.startsWith("*.");
}

/**
 * Parses a comma-separated host list. An empty (or all-blank) value means the
 * default backend and yields `[""]`.
 */
export function parseHostList(value: string): string[] {
  if (value.trim() === "") return [""];
  return parseNames(value);
}

/**
 * Parses a comma-separated list of host names, none empty, dropping
 * duplicates; at most {@link MAX_HOSTS}.
 */
export function parseNames(value: string): string[] {
  const parts = value.split(",");
  if (parts.length > MAX_HOSTS) {
    throw new RangeError(
      `Invalid host list: ${parts.length} names, more than ${MAX_HOSTS} (give the others to another container, or use a wildcard)`,
    );
  }
  return [...new Set(parts.map((part) => parseHost(part.trim())))];
}

// URL path characters (RFC 3986 pchar) minus those HAProxy's configuration
// parser or regex engine would treat specially: $ ' ( ) and the backslash.
const PREFIX_SEGMENT = /^([A-Za-z0-9._~!&*+,;=:@-]|%[0-9A-Fa-f]{2})+$/;

/**
 * Parses a path prefix. Leading and trailing slashes are optional; the result
 * starts with `/` and has no trailing slash, or is "" for no prefix.
 */
export function parsePrefix(value: string): string {
  const trimmed = value.replace(/^\/+/, "").replace(/\/+$/, "");
  if (trimmed === "") return "";
  const valid = trimmed.length <= 1024 &&
    trimmed.split("/").every((segment) => PREFIX_SEGMENT.test(segment));
  if (!valid) {
    throw new TypeError(
      `Invalid prefix ${
        quoteValue(value)
      }: expected URL path segments of letters, digits and -._~!&*+,;=:@ or %XX, separated by single "/"`,
    );
  }
  return `/${trimmed}`;
}

/** Parses a server weight: an integer from 0 to 256, HAProxy's range. */
export function parseWeight(value: string): number {
  if (!/^[0-9]{1,3}$/.test(value) || Number(value) > 256) {
    throw new RangeError(
      `Invalid weight ${quoteValue(value)}: expected an integer from 0 to 256`,
    );
  }
  return Number(value);
}

/** Parses a `0`/`1` switch such as `strip_prefix`. */
export function parseSwitch(value: string): boolean {
  if (value !== "0" && value !== "1") {
    throw new TypeError(`Invalid switch ${quoteValue(value)}: expected 0 or 1`);
  }
  return value === "1";
}

// An absolute path with an optional query: URL characters HAProxy's
// configuration parser takes as one word.
const CHECK_PATH = /^\/([A-Za-z0-9._~!&*+,;=:@\/?-]|%[0-9A-Fa-f]{2})*$/;

/** Parses an HTTP health-check path such as `/healthz` or `/status?full=1`. */
export function parseCheckPath(value: string): string {
  if (value.length > 1024 || !CHECK_PATH.test(value)) {
    throw new TypeError(
      `Invalid check path ${
        quoteValue(value)
      }: expected an absolute URL path such as "/healthz"`,
    );
  }
  return value;
}

/**
 * Load-balancing algorithms a route may ask for: those HAProxy 2.6 lets
 * servers be added to at runtime (`source` with consistent hashing).
 */
export const BALANCE_ALGORITHMS = [
  "roundrobin",
  "leastconn",
  "random",
  "source",
] as const;

/** One of {@link BALANCE_ALGORITHMS}. */
export type Balance = typeof BALANCE_ALGORITHMS[number];

/** Parses a load-balancing algorithm. */
export function parseBalance(value: string): Balance {
  const found = BALANCE_ALGORITHMS.find((name) => name === value);
  if (found === undefined) {
    throw new TypeError(
      `Invalid balance ${quoteValue(value)}: expected one of ${
        BALANCE_ALGORITHMS.join(", ")
      }`,
    );
  }
  return found;
}

/** Parses a per-server connection limit: an integer from 1 to 1000000. */
export function parseMaxconn(value: string): number {
  if (!/^[1-9][0-9]{0,6}$/.test(value) || Number(value) > 1_000_000) {
    throw new RangeError(
      `Invalid maxconn ${
        quoteValue(value)
      }: expected an integer from 1 to 1000000`,
    );
  }
  return Number(value);
}

/** Escapes a validated prefix for use inside a regular expression. */
export function escapeRegex(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
