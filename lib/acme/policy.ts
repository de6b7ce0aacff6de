/**
 * When to ask an ACME CA for a certificate, kept pure so the politeness
 * rules are tested without a CA: which names can have one, when one is
 * due for renewal, and how long a name that failed waits.
 *
 * @module
 */

import { durationMs } from "../util/duration.ts";

/**
 * Top-level names no public CA issues for (special-use and private names).
 * A route on such a host is served on HTTPS with the default certificate.
 */
const PRIVATE_TLDS = new Set([
  "localhost",
  "local",
  "internal",
  "invalid",
  "test",
  "example",
  "lan",
  "home",
  "arpa",
]);

/** Why `host` cannot get a certificate by HTTP-01, or null when it can. */
export function uncertifiable(host: string, dns = false): string | null {
  if (host === "") return "the default host has no name";
  if (host.startsWith("*.") && !dns) {
    return "a wildcard needs a DNS-01 challenge: give --acme-dns-hook";
  }
  const labels = host.split(".");
  if (labels.length < 2) return "a name without a dot is not a public DNS name";
  const tld = labels[labels.length - 1] as string;
  if (/^[0-9]+$/.test(tld)) return "an IP address is not a DNS name";
  if (PRIVATE_TLDS.has(tld)) return `.${tld} is a private top-level domain`;
  return null;
}

/** When a certificate is renewed: once a third of its lifetime is left. */
export function renewalTime(notBefore: Date, notAfter: Date): number {
  const life = notAfter.getTime() - notBefore.getTime();
  return notAfter.getTime() - Math.floor(life / 3);
}

/** Back-off after failures: `baseMs` after the first, doubling up to `maxMs`. */
export interface Backoff {
  /** Wait after the first failure. */
  readonly baseMs: number;
  /** Longest wait. */
  readonly maxMs: number;
}

/** How long a name waits after its `failures`-th failure in a row. */
export function backoffMs(failures: number, backoff: Backoff): number {
  const exponent = Math.min(Math.max(failures - 1, 0), 30);
  return Math.min(backoff.baseMs * 2 ** exponent, backoff.maxMs);
}

/** What is known about one name. */
export interface NameState {
  /** Failures in a row. */
  readonly failures: number;
  /** No request for the name before this time (ms since the epoch). */
  readonly notBefore: number;
  /** The last failure's reason, if the last attempt failed. */
  readonly lastError?: string;
}

/** A certificate that serves the name now. */
export interface Current {
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/**
 * When to ask for a certificate for one name: the time (ms since the
 * epoch) from which a request is due. A name with a certificate is due at
 * its renewal time; a name that failed, not before its back-off ends.
 */
export function dueAt(
  current: Current | undefined,
  state: NameState | undefined,
): number {
  const renew = current === undefined
    ? 0
    : renewalTime(current.notBefore, current.notAfter);
  return Math.max(renew, state?.notBefore ?? 0);
}

/** Parses `--acme-backoff` (`base[:max]`, each like `60s`, `5m` or `24h`). */
export function parseBackoff(value: string): Backoff {
  const [base, max = "24h"] = value.split(":");
  const parse = (text: string) => {
    const ms = durationMs(text.trim());
    if (ms === null) {
      throw new TypeError(
        `Invalid ACME back-off ${
          JSON.stringify(value)
        }: expected base[:max] such as 1m:24h`,
      );
    }
    return ms;
  };
  const backoff = { baseMs: parse(base ?? ""), maxMs: parse(max) };
  if (backoff.baseMs <= 0 || backoff.maxMs < backoff.baseMs) {
    throw new TypeError(
      `Invalid ACME back-off ${
        JSON.stringify(value)
      }: the base must be above 0 and at most the maximum`,
    );
  }
  return backoff;
}

/** The window new orders are counted in. */
export const ORDER_WINDOW_MS = 3_600_000;

/**
 * When the next new order may be placed, given the times (ms since the
 * epoch) of the orders placed so far and at most `perHour` in any hour:
 * `now` while the last hour has room, else an hour after the oldest order
 * that fills it.
 */
export function nextOrderAt(
  orders: readonly number[],
  perHour: number,
  now: number,
): number {
  const recent = orders.filter((at) => at > now - ORDER_WINDOW_MS).sort((
    a,
    b,
  ) => a - b);
  if (recent.length < perHour) return now;
  return recent[recent.length - perHour]! + ORDER_WINDOW_MS;
}

/** The order times still inside the window at `now`: what is worth keeping. */
export function recentOrders(orders: readonly number[], now: number): number[] {
  return orders.filter((at) => at > now - ORDER_WINDOW_MS && at <= now);
}

/**
 * Parses `--acme-orders-per-hour`: a whole number from 1.
 *
 * @throws {TypeError} for anything else.
 */
export function parseOrdersPerHour(value: string): number {
  if (!/^[0-9]+$/.test(value.trim()) || Number(value) < 1) {
    throw new TypeError(
      `Invalid ACME orders per hour ${
        JSON.stringify(value)
      }: expected a whole number from 1`,
    );
  }
  return Number(value);
}

/** Which challenge names that are not wildcards get (wildcards get DNS-01). */
export type ChallengeType = "http-01" | "dns-01";

/**
 * Reads `--acme-challenge`; `dns-01` needs a hook.
 *
 * @throws {TypeError} for another value, or dns-01 without a hook.
 */
export function parseChallenge(
  value: string,
  hook: string | undefined,
): ChallengeType {
  if (value !== "http-01" && value !== "dns-01") {
    throw new TypeError(
      `Invalid ACME challenge ${
        JSON.stringify(value)
      }: expected http-01 or dns-01`,
    );
  }
  if (value === "dns-01" && hook === undefined) {
    throw new TypeError("--acme-challenge dns-01 needs --acme-dns-hook");
  }
  return value;
}

/** The challenges to try for a name, in order. */
export function challengesFor(
  host: string,
  preferred: ChallengeType,
  hook: boolean,
): ChallengeType[] {
  if (host.startsWith("*.") || preferred === "dns-01") return ["dns-01"];
  return hook ? ["http-01", "dns-01"] : ["http-01"];
}

/**
 * The certificate file for a name in the certificate directory; a
 * wildcard's `*` becomes `_`, which no host name has.
 */
export function certFileName(host: string): string {
  return `${host.replace(/^\*\./, "_.")}.pem`;
}
