/**
 * Validators for the route options a label can set beside the host:
 * authentication, allow-lists, rate limits, HSTS, headers, compression,
 * timeouts and the scheme the container speaks. Each returns the normalized
 * value or throws with a message quoting the bad one; callers add the
 * container and label. What they accept reaches haproxy.cfg either as a
 * word of a safe alphabet or quoted by {@link quoteConfig}. Pure.
 *
 * @module
 */

import { quoteValue } from "./labels.ts";
import { isIPv4, isIPv6 } from "../util/net_address.ts";
import { durationMs } from "../util/duration.ts";

/** One user of a route's basic authentication. */
export interface AuthUser {
  /** User name. */
  readonly user: string;
  /** crypt(3) hash of the password. */
  readonly hash: string;
}

/** A request rate allowed per client address. */
export interface RateLimit {
  /** Requests allowed in one period. */
  readonly requests: number;
  /** The period, as HAProxy reads it (`10s`). */
  readonly period: string;
}

/** A header a route sets, on the request or on the response. */
export interface Header {
  /** Name as the label gives it. */
  readonly name: string;
  /** Value, unquoted. */
  readonly value: string;
}

/** How HAProxy reaches a route's containers. */
export type Scheme = "http" | "https";

const MAX_USERS = 64;
const USER = /^[A-Za-z0-9._@-]{1,64}$/;
// The crypt(3) schemes glibc's libxcrypt checks: MD5 ($1$), SHA-256 ($5$),
// SHA-512 ($6$, with rounds=), bcrypt ($2a$, $2b$, $2y$) and yescrypt ($y$).
const HASH = /^\$(1|5|6|2[aby]|y)\$[A-Za-z0-9./$=]{8,200}$/;

// HAProxy checks the hash on every request that carries credentials, with
// no cache, on the thread serving it: a slow hash lets any client burn the
// proxy's CPU, and two concurrent checks of a few seconds each trip its
// watchdog, which kills the whole process. So a label may only name hashes
// whose one check costs about 5 ms or less. Measured with libcrypt (Python's
// crypt) on the 2-core AMD EPYC test machine, one check of a wrong password:
// SHA-512 crypt at its default 5,000 rounds 1.6 ms (10,000: 2.7 ms), SHA-256
// 1.1 ms, MD5 0.1 ms; bcrypt cost 5 1.7 ms, cost 6 3.5 ms (cost 12 0.46 s);
// yescrypt with N*r = 2^15 ("$y$j7T$") 4.0 ms, 2^16 8.1 ms, and Debian's
// default 2^17 ("$y$j9T$") 18 ms. On the slower machine issue 31 measured
// on, the same hashes cost about twice as much, hence one step below 5 ms.
/** The most rounds a SHA-256 or SHA-512 crypt hash may ask for (their default). */
export const MAX_SHA_CRYPT_ROUNDS = 5000;
/** The highest bcrypt cost a hash may have. */
export const MAX_BCRYPT_COST = 5;
/** The largest yescrypt N times r a hash may have. */
export const MAX_YESCRYPT_WORK = 2 ** 15;

// yescrypt's base-64 digits, in which the parameters are written.
const ITOA64 =
  "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const HOW_TO_HASH =
  'make one with "openssl passwd -6" (SHA-512 crypt, 5,000 rounds)';

/**
 * Why checking `hash` would cost more than a label may ask of HAProxy, or
 * null when it is cheap enough. The hash is never quoted back.
 */
export function hashCostError(hash: string): string | null {
  const sha = /^\$[56]\$rounds=([0-9]{1,10})\$/.exec(hash);
  if (sha !== null && Number(sha[1]) > MAX_SHA_CRYPT_ROUNDS) {
    return `the hash asks for ${
      sha[1]
    } rounds, more than ${MAX_SHA_CRYPT_ROUNDS}: HAProxy computes it on every request, so a slow hash lets any client burn the proxy's CPU; ${HOW_TO_HASH}`;
  }
  const bcrypt = /^\$2[aby]\$([0-9]{2})\$/.exec(hash);
  if (hash.startsWith("$2") && bcrypt === null) {
    return `the bcrypt hash has no cost field; ${HOW_TO_HASH}`;
  }
  if (bcrypt !== null && Number(bcrypt[1]) > MAX_BCRYPT_COST) {
    return `the bcrypt cost is ${
      bcrypt[1]
    }, more than ${MAX_BCRYPT_COST}: HAProxy computes the hash on every request, so a slow hash lets any client burn the proxy's CPU; ${HOW_TO_HASH}`;
  }
  if (hash.startsWith("$y$")) {
    // "$y$" flavour, log2(N) and r, one digit each: "j9T" is N = 2^12, r = 32.
    const params = /^\$y\$j([./0-9A-Za-z])([./0-9A-Za-z])\$/.exec(hash);
    if (params === null) {
      return `the yescrypt parameters are not of the form "$y$j<N><r>$" that a cost can be read from; ${HOW_TO_HASH}`;
    }
    const work = 2 ** (ITOA64.indexOf(params[1]!) + 1) *
      (ITOA64.indexOf(params[2]!) + 1);
    if (work > MAX_YESCRYPT_WORK) {
      return `the yescrypt work N*r is ${work}, more than ${MAX_YESCRYPT_WORK}: HAProxy computes the hash on every request, so a slow hash lets any client burn the proxy's CPU; ${HOW_TO_HASH}`;
    }
  }
  return null;
}

/**
 * Parses `user:hash[,user:hash...]`, hashes as `openssl passwd -6` or
 * `mkpasswd -m sha-512` print them. A plain password is refused: it would
 * sit in haproxy.cfg and in `docker inspect` for anyone to read. A hash
 * whose check costs more than {@link hashCostError} allows is refused.
 */
export function parseAuth(value: string): AuthUser[] {
  const users: AuthUser[] = [];
  const parts = value.split(",").map((part) => part.trim());
  if (parts.length > MAX_USERS) {
    throw new RangeError(`Invalid auth: more than ${MAX_USERS} users`);
  }
  for (const part of parts) {
    const colon = part.indexOf(":");
    const user = colon < 0 ? part : part.slice(0, colon);
    const hash = colon < 0 ? "" : part.slice(colon + 1);
    if (!USER.test(user)) {
      throw new TypeError(
        `Invalid auth user ${
          quoteValue(user)
        }: expected letters, digits and ._@- before the ":"`,
      );
    }
    if (!HASH.test(hash)) {
      // The hash is not quoted back: it may be a password typed in by mistake.
      throw new TypeError(
        `Invalid auth entry for user ${user}: expected user:hash with a crypt(3) hash such as "openssl passwd -6" prints ($6$...)`,
      );
    }
    const cost = hashCostError(hash);
    if (cost !== null) {
      throw new RangeError(`Invalid auth entry for user ${user}: ${cost}`);
    }
    if (users.some((known) => known.user === user)) {
      throw new TypeError(`Invalid auth: user ${user} is given twice`);
    }
    users.push({ user, hash });
  }
  return users;
}

const MAX_ALLOW = 256;

/** Parses one address or CIDR range, IPv4 or IPv6, in the form HAProxy reads. */
function parseRange(value: string): string {
  const slash = value.indexOf("/");
  const address = slash < 0 ? value : value.slice(0, slash);
  const bits = slash < 0 ? undefined : value.slice(slash + 1);
  const v4 = isIPv4(address);
  if (!v4 && !isIPv6(address)) {
    throw new TypeError(
      `Invalid address ${
        quoteValue(value)
      }: expected an IPv4 or IPv6 address or CIDR range such as 10.0.0.0/8 or fd00::/8`,
    );
  }
  if (bits === undefined) return address.toLowerCase();
  const max = v4 ? 32 : 128;
  if (!/^(0|[1-9][0-9]{0,2})$/.test(bits) || Number(bits) > max) {
    throw new RangeError(
      `Invalid range ${quoteValue(value)}: the prefix length is 0 to ${max}`,
    );
  }
  return `${address.toLowerCase()}/${bits}`;
}

/** Parses a comma list of addresses and CIDR ranges, dropping duplicates. */
export function parseAllow(value: string): string[] {
  const parts = value.split(",").map((part) => part.trim());
  if (parts.length > MAX_ALLOW) {
    throw new RangeError(`Invalid allow list: more than ${MAX_ALLOW} entries`);
  }
  return [...new Set(parts.map(parseRange))];
}

/**
 * Milliseconds of a duration such as `30s`, written as HAProxy reads it
 * (no leading zero, at most seven digits); throws for another form or
 * outside [min, max].
 */
function checkedDurationMs(
  value: string,
  what: string,
  minMs: number,
  maxMs: number,
): number {
  const ms = /^[1-9][0-9]{0,6}(ms|s|m|h)$/.test(value)
    ? durationMs(value) ?? NaN
    : NaN;
  if (!(ms >= minMs && ms <= maxMs)) {
    throw new RangeError(
      `Invalid ${what} ${
        quoteValue(value)
      }: expected a duration such as 500ms, 30s, 5m or 1h, from ${minMs} ms to ${
        maxMs / 3_600_000
      } h`,
    );
  }
  return ms;
}

/** Parses `<requests>/<period>`, such as `100/10s`. */
export function parseRateLimit(value: string): RateLimit {
  const slash = value.indexOf("/");
  const requests = value.slice(0, slash);
  const period = value.slice(slash + 1);
  if (slash < 0 || !/^[1-9][0-9]{0,6}$/.test(requests)) {
    throw new TypeError(
      `Invalid rate limit ${
        quoteValue(value)
      }: expected <requests>/<period> such as 100/10s`,
    );
  }
  checkedDurationMs(period, "rate-limit period", 1000, 24 * 3_600_000);
  return { requests: Number(requests), period };
}

/** Parses an HSTS max-age in seconds (0 tells browsers to forget it). */
export function parseHsts(value: string): number {
  if (!/^(0|[1-9][0-9]{0,9})$/.test(value) || Number(value) > 2 ** 31 - 1) {
    throw new RangeError(
      `Invalid hsts ${
        quoteValue(value)
      }: expected a max-age in seconds, such as 31536000`,
    );
  }
  return Number(value);
}

/** Parses how long a container may take to answer, such as `30s` or `5m`. */
export function parseTimeout(value: string): string {
  checkedDurationMs(value, "timeout", 100, 24 * 3_600_000);
  return value;
}

/**
 * Parses how long an upgraded connection may stay idle, such as `2h`:
 * from 1 s (shorter cuts every WebSocket between two pings) to a week.
 */
export function parseTunnelTimeout(value: string): string {
  checkedDurationMs(value, "tunnel timeout", 1000, 7 * 24 * 3_600_000);
  return value;
}

/** A PROXY protocol version. */
export type ProxyVersion = "v1" | "v2";

/** Parses a PROXY protocol version: `v1` or `v2`. */
export function parseProxyVersion(value: string): ProxyVersion {
  if (value !== "v1" && value !== "v2") {
    throw new TypeError(
      `Invalid PROXY protocol version ${quoteValue(value)}: expected v1 or v2`,
    );
  }
  return value;
}

/** Parses how many errors in a row take a server out: 1 to 1000. */
export function parseErrorLimit(value: string): number {
  if (!/^[1-9][0-9]{0,3}$/.test(value) || Number(value) > 1000) {
    throw new RangeError(
      `Invalid error limit ${
        quoteValue(value)
      }: expected an integer from 1 to 1000`,
    );
  }
  return Number(value);
}

/** Parses `http` or `https`. */
export function parseScheme(value: string): Scheme {
  if (value !== "http" && value !== "https") {
    throw new TypeError(
      `Invalid scheme ${quoteValue(value)}: expected http or https`,
    );
  }
  return value;
}

// HTTP token characters (RFC 9110) but those HAProxy's configuration parser
// reads specially unquoted: # $ % ' ` and the backslash.
const HEADER_NAME = /^[A-Za-z0-9!&*+.^_|~-]{1,64}$/;
// The headers that frame a message or belong to one connection: set by a
// label they would break requests or let one request smuggle another.
const REFUSED_HEADERS = new Set([
  "host",
  "content-length",
  "transfer-encoding",
  "connection",
  "keep-alive",
  "proxy-connection",
  "te",
  "trailer",
  "upgrade",
]);

/** Checks a header name from a label; returns it as given. */
export function parseHeaderName(name: string): string {
  if (!HEADER_NAME.test(name)) {
    throw new TypeError(
      `Invalid header name ${
        quoteValue(name)
      }: expected letters, digits and !&*+.^_|~-`,
    );
  }
  if (REFUSED_HEADERS.has(name.toLowerCase())) {
    throw new TypeError(
      `Header ${name} cannot be set by a label: it frames the message or belongs to one connection`,
    );
  }
  return name;
}

/**
 * Checks a header value: printable ASCII, at most 1024 characters. The
 * value is never quoted back: it may be a secret.
 */
export function parseHeaderValue(value: string): string {
  if (!/^[\x20-\x7e]{0,1024}$/.test(value)) {
    throw new TypeError(
      `Invalid header value (${value.length} characters, not shown): expected at most 1024 printable ASCII characters`,
    );
  }
  return value.trim();
}

/**
 * Quotes a literal for HAProxy's configuration parser where the value is
 * a log-format string (`set-header`): inside double quotes, `"`, `\` and
 * `$` are escaped for the parser, and `%` doubled so that no sample
 * expression runs.
 */
export function quoteConfig(value: string): string {
  return `"${value.replace(/[\\"$]/g, "\\$&").replace(/%/g, "%%")}"`;
}
