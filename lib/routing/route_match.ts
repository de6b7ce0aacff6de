/**
 * A route's request match (`glue_http_<port>_match`): containers that carry
 * one serve the requests of their host and path that have the header or
 * cookie, beside the containers without it that serve the rest (a canary
 * for testers). Pure.
 *
 * @module
 */

import { quoteValue } from "./labels.ts";
import { parseHeaderName } from "./route_options.ts";

/** Which requests a route takes among those of its host and path. */
export interface RouteMatch {
  readonly kind: "header" | "cookie";
  /** Header name as labelled (matched without case), or cookie name. */
  readonly name: string;
  /** The exact value wanted. */
  readonly value: string;
}

// Cookie names are RFC 6265 tokens; values here are a safe subset of what
// both may hold: nothing HAProxy's parser reads specially.
const COOKIE_NAME = /^[A-Za-z0-9!&*+.^_|~-]{1,64}$/;
const VALUE = /^[A-Za-z0-9._~:/@+=-]{1,128}$/;

/** Parses `header:<Name>=<value>` or `cookie:<name>=<value>`. */
export function parseMatch(value: string): RouteMatch {
  const parsed = /^(header|cookie):([^=]*)=([\s\S]*)$/.exec(value);
  if (parsed === null) {
    throw new TypeError(
      `Invalid match ${
        quoteValue(value)
      }: expected header:<Name>=<value> or cookie:<name>=<value>`,
    );
  }
  const kind = parsed[1] as RouteMatch["kind"];
  const name = parsed[2]!;
  const wanted = parsed[3]!;
  if (kind === "header") {
    parseHeaderName(name);
    if (name.toLowerCase() === "cookie") {
      throw new TypeError(
        `Invalid match ${
          quoteValue(value)
        }: match a cookie with cookie:<name>=<value>`,
      );
    }
  } else if (!COOKIE_NAME.test(name)) {
    throw new TypeError(
      `Invalid match ${
        quoteValue(value)
      }: a cookie name takes letters, digits and !&*+.^_|~-`,
    );
  }
  if (!VALUE.test(wanted)) {
    throw new TypeError(
      `Invalid match ${
        quoteValue(value)
      }: the value takes 1 to 128 letters, digits and ._~:/@+=-`,
    );
  }
  return { kind, name, value: wanted };
}

/** What tells two matches apart: header names without case. */
export function matchKey(match: RouteMatch | null | undefined): string {
  if (match === null || match === undefined) return "";
  const name = match.kind === "header" ? match.name.toLowerCase() : match.name;
  return `${match.kind}:${name}=${match.value}`;
}

/** A match as the label gives it. */
export function shownMatch(match: RouteMatch): string {
  return `${match.kind}:${match.name}=${match.value}`;
}

/** The sample HAProxy tests a match with: `req.hdr(X-Canary) -m str 1`. */
export function matchCondition(match: RouteMatch): string {
  return `${
    match.kind === "header" ? "req.hdr" : "req.cook"
  }(${match.name}) -m str ${match.value}`;
}
