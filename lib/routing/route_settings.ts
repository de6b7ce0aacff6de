/**
 * How an HTTP route is served, read from the `glue_http_<port>_*` labels of
 * one container port: the settings every container of a route must agree
 * on, and what compares and shows them. Pure.
 *
 * @module
 */

import {
  type Balance,
  parseBalance,
  parseCheckPath,
  parseHostList,
  parseMaxconn,
  parseNames,
  parsePrefix,
  parseSwitch,
  parseWeight,
  quoteValue,
} from "./labels.ts";
import { isExactHost } from "./labels.ts";
import {
  type AuthUser,
  type Header,
  parseAllow,
  parseAuth,
  parseErrorLimit,
  parseHeaderName,
  parseHeaderValue,
  parseHsts,
  parseRateLimit,
  parseScheme,
  parseTimeout,
  parseTunnelTimeout,
  type RateLimit,
  type Scheme,
} from "./route_options.ts";
import {
  type AuthTarget,
  DEFAULT_AUTH_HEADERS,
  DEFAULT_AUTH_TIMEOUT_MS,
  parseForwardAuth,
  parseForwardAuthHeaders,
  parseForwardAuthTimeout,
  shownTarget,
} from "./forward_auth.ts";
import { parseMatch, type RouteMatch } from "./route_match.ts";
import { errorMessage } from "../util/error_message.ts";

/**
 * How a route is served, from the labels of the containers that serve it.
 * All containers of one route must agree; the oldest one decides.
 */
export interface RouteSettings {
  /** `strip_prefix`: the prefix is removed before the request reaches the servers. */
  readonly stripPrefix: boolean;
  /** `tls`: also served on the HTTPS frontend. */
  readonly tls: boolean;
  /** `redirect_https`: plain-HTTP requests get a permanent redirect to HTTPS. */
  readonly redirectHttps: boolean;
  /** `check`: HTTP health-check path; "" for a TCP check. */
  readonly check: string;
  /** `balance`: the load-balancing algorithm. */
  readonly balance: Balance;
  /** `sticky`: cookie-based persistence. */
  readonly sticky: boolean;
  /** `auth`: basic-authentication users; none for no authentication. */
  readonly auth: readonly AuthUser[];
  /** `allow`: client addresses and ranges let in; none for everyone. */
  readonly allow: readonly string[];
  /** `rate_limit`: requests per client address; null for no limit. */
  readonly rateLimit: RateLimit | null;
  /** `hsts`: max-age of `Strict-Transport-Security` on HTTPS; null for none. */
  readonly hsts: number | null;
  /** `request_header_<Name>`: set on requests, by name. */
  readonly requestHeaders: readonly Header[];
  /** `response_header_<Name>`: set on responses, by name. */
  readonly responseHeaders: readonly Header[];
  /** `compress`: gzip for text-like responses. */
  readonly compress: boolean;
  /** `timeout`: how long a container may take to answer; "" for the default. */
  readonly timeout: string;
  /**
   * `tunnel_timeout`: how long an upgraded connection (WebSocket) may stay
   * idle; "" for the default (1 hour).
   */
  readonly tunnelTimeout: string;
  /** `scheme`: how HAProxy talks to the containers. */
  readonly scheme: Scheme;
  /**
   * `error_limit`: consecutive errors (5xx answers, refused connections,
   * time-outs) that take a server out until an HTTP check passes; 0 for
   * off.
   */
  readonly errorLimit: number;
  /**
   * Set on the route of a `redirect_from` name: every request for it gets
   * a 308 to this host; "" for a route that serves.
   */
  readonly redirectTo: string;
  /** `forward_auth`: where each request is asked about; null for no one. */
  readonly forwardAuth: AuthTarget | null;
  /** `forward_auth_headers`: what a yes may set on the request. */
  readonly forwardAuthHeaders: readonly string[];
  /** `forward_auth_timeout`: how long the answer may take, ms. */
  readonly forwardAuthTimeout: number;
}

/** Settings of a route whose labels set none. */
export const DEFAULT_ROUTE_SETTINGS: RouteSettings = {
  stripPrefix: false,
  tls: false,
  redirectHttps: false,
  check: "",
  balance: "roundrobin",
  sticky: false,
  auth: [],
  allow: [],
  rateLimit: null,
  hsts: null,
  requestHeaders: [],
  responseHeaders: [],
  compress: false,
  timeout: "",
  tunnelTimeout: "",
  scheme: "http",
  errorLimit: 0,
  redirectTo: "",
  forwardAuth: null,
  forwardAuthHeaders: DEFAULT_AUTH_HEADERS,
  forwardAuthTimeout: DEFAULT_AUTH_TIMEOUT_MS,
};

/**
 * The label suffix of each route setting, for messages, in the order
 * conflicts are looked for: a `redirect_from` name first (its route has
 * no other setting of its own), redirect_https before tls, which it
 * implies.
 */
export const SETTING_LABELS: Readonly<Record<keyof RouteSettings, string>> = {
  redirectTo: "redirect_from",
  stripPrefix: "strip_prefix",
  redirectHttps: "redirect_https",
  tls: "tls",
  check: "check",
  balance: "balance",
  sticky: "sticky",
  auth: "auth",
  allow: "allow",
  rateLimit: "rate_limit",
  hsts: "hsts",
  requestHeaders: "request_header_*",
  responseHeaders: "response_header_*",
  compress: "compress",
  timeout: "timeout",
  tunnelTimeout: "tunnel_timeout",
  scheme: "scheme",
  errorLimit: "error_limit",
  forwardAuth: "forward_auth",
  forwardAuthHeaders: "forward_auth_headers",
  forwardAuthTimeout: "forward_auth_timeout",
};

const SETTING_KEYS = Object.keys(SETTING_LABELS) as (keyof RouteSettings)[];

/** The settings {@link hasOptions} looks at: those from `auth` on. */
const OPTION_KEYS: readonly (keyof RouteSettings)[] = [
  "auth",
  "allow",
  "rateLimit",
  "hsts",
  "requestHeaders",
  "responseHeaders",
  "compress",
  "timeout",
  "tunnelTimeout",
  "scheme",
  "errorLimit",
  "redirectTo",
  "forwardAuth",
];

/**
 * The options that give a route rules of its own (authentication, limits,
 * headers ...): such a route has a backend of its own instead of a slot
 * of the host pool.
 */
export function hasOptions(settings: RouteSettings): boolean {
  return OPTION_KEYS.some((key) =>
    !same(settings[key], DEFAULT_ROUTE_SETTINGS[key])
  );
}

function same(a: unknown, b: unknown): boolean {
  return a === b ||
    (typeof a === "object" && typeof b === "object" &&
      JSON.stringify(a) === JSON.stringify(b));
}

/** The first setting two claims on one route disagree on, if any. */
export function disagreement(
  a: RouteSettings,
  b: RouteSettings,
): keyof RouteSettings | undefined {
  // Claims of one container share their settings object.
  if (a === b) return undefined;
  return SETTING_KEYS.find((key) => !same(a[key], b[key]));
}

/** A setting's value as a label would give it; passwords' hashes and header values are not shown. */
export function shownSetting(
  settings: RouteSettings,
  key: keyof RouteSettings,
): string {
  switch (key) {
    case "auth":
      return settings.auth.length === 0
        ? "(none)"
        : `users ${settings.auth.map((user) => user.user).join(",")}`;
    case "rateLimit": {
      const limit = settings.rateLimit;
      return limit === null ? "(none)" : `${limit.requests}/${limit.period}`;
    }
    case "forwardAuth": {
      const target = settings.forwardAuth;
      return target === null ? "(none)" : shownTarget(target);
    }
    case "redirectTo":
      return settings.redirectTo === ""
        ? "(none)"
        : `308 to ${settings.redirectTo}`;
    case "forwardAuthTimeout":
      return `${settings.forwardAuthTimeout}ms`;
    case "requestHeaders":
    case "responseHeaders":
      // A header's value may be a secret (a token for the container):
      // its name is shown, never the value.
      return settings[key].map((h) => `${h.name}: (set)`).join("; ") ||
        "(none)";
  }
  const value = settings[key];
  if (typeof value === "boolean") return value ? "1" : "0";
  if (value === null || value === "") return "(none)";
  if (Array.isArray(value)) return value.join(",") || "(none)";
  return String(value);
}

/**
 * The settings that differ from a route without labels, as `label=value`
 * words for `routes` and the status page (passwords' hashes and header
 * values left out).
 */
export function settingWords(settings: RouteSettings): string[] {
  const words: string[] = [];
  for (const key of SETTING_KEYS) {
    if (same(settings[key], DEFAULT_ROUTE_SETTINGS[key])) continue;
    if (key === "requestHeaders" || key === "responseHeaders") {
      const kind = key === "requestHeaders" ? "request" : "response";
      for (const { name } of settings[key]) {
        words.push(`${kind}_header_${name}=(set)`);
      }
      continue;
    }
    // tls is implied by redirect_https, which is shown.
    if (key === "tls" && settings.redirectHttps) continue;
    words.push(`${SETTING_LABELS[key]}=${shownSetting(settings, key)}`);
  }
  return words;
}

/** A label whose value is bad, with what is wrong. */
export class LabelError extends Error {
  /** The label at fault. */
  readonly label: string;
  constructor(label: string, message: string) {
    super(message);
    this.name = "LabelError";
    this.label = label;
  }
}

/** What one container port's HTTP labels ask for. */
export interface HttpLabels {
  /** Hosts, `[""]` for the default backend. */
  readonly hosts: readonly string[];
  /** Path prefix, "" for every path. */
  readonly prefix: string;
  /** Server weight. */
  readonly weight: number;
  /** Per-server connection limit; 0 for none. */
  readonly maxconn: number;
  /** `redirect_from`: names whose requests get a 308 to the first host. */
  readonly aliases: readonly string[];
  /** `match`: the requests taken among those of host and prefix; null for the rest. */
  readonly match: RouteMatch | null;
  /** The route's settings, `tls` and `redirect_https` as labelled. */
  readonly settings: RouteSettings;
}

/**
 * Reads the `glue_http_<port>_*` labels of one port.
 *
 * @throws {LabelError} naming the first label whose value is bad.
 */
export function readHttpLabels(
  labels: Readonly<Record<string, string>>,
  port: number,
  headerLabels: ReadonlyMap<string, readonly string[]>,
): HttpLabels {
  const base = `glue_http_${port}_`;
  const read = <T>(
    suffix: string,
    parse: (value: string) => T,
    fallback: T,
  ): T => {
    const label = base + suffix;
    const value = labels[label];
    if (value === undefined) return fallback;
    try {
      return parse(value);
    } catch (error) {
      throw new LabelError(label, errorMessage(error));
    }
  };
  const hosts = read("host", parseHostList, [""]);
  const prefix = read("prefix", parsePrefix, "");
  const strip = read("strip_prefix", parseSwitch, false);
  const weight = read("weight", parseWeight, 100);
  const redirectHttps = read("redirect_https", parseSwitch, false);
  const settings: RouteSettings = {
    // Stripping an empty prefix changes nothing; treat it as off so it
    // cannot conflict with a container that left the label out.
    stripPrefix: strip && prefix !== "",
    tls: read("tls", parseSwitch, false) || redirectHttps,
    redirectHttps,
    check: read("check", parseCheckPath, ""),
    balance: read<Balance>("balance", parseBalance, "roundrobin"),
    sticky: read("sticky", parseSwitch, false),
    auth: read("auth", parseAuth, []),
    allow: read("allow", parseAllow, []),
    rateLimit: read("rate_limit", parseRateLimit, null),
    hsts: read("hsts", parseHsts, null),
    requestHeaders: headers(labels, `${base}request_header_`, headerLabels),
    responseHeaders: headers(labels, `${base}response_header_`, headerLabels),
    compress: read("compress", parseSwitch, false),
    timeout: read("timeout", parseTimeout, ""),
    tunnelTimeout: read("tunnel_timeout", parseTunnelTimeout, ""),
    scheme: read("scheme", parseScheme, "http"),
    errorLimit: read("error_limit", parseErrorLimit, 0),
    redirectTo: "",
    forwardAuth: read("forward_auth", parseForwardAuth, null),
    forwardAuthHeaders: read(
      "forward_auth_headers",
      parseForwardAuthHeaders,
      DEFAULT_AUTH_HEADERS,
    ),
    forwardAuthTimeout: read(
      "forward_auth_timeout",
      parseForwardAuthTimeout,
      DEFAULT_AUTH_TIMEOUT_MS,
    ),
  };
  const maxconn = read("maxconn", parseMaxconn, 0);
  const match = read<RouteMatch | null>("match", parseMatch, null);
  const aliases = read(
    "redirect_from",
    (value) => parseAliases(value, hosts),
    [],
  );
  return { hosts, prefix, weight, maxconn, match, aliases, settings };
}

/**
 * Parses `redirect_from`: host names, not wildcards, none of them a host of
 * the route, which must have an exact host to send them to.
 */
function parseAliases(value: string, hosts: readonly string[]): string[] {
  const target = hosts[0] ?? "";
  if (!isExactHost(target)) {
    throw new TypeError(
      "redirect_from needs the host label to name a host (not a wildcard or the default) to redirect to",
    );
  }
  const aliases = parseNames(value);
  for (const alias of aliases) {
    if (!isExactHost(alias)) {
      throw new TypeError(
        `Invalid redirect_from ${
          quoteValue(alias)
        }: a host name, not a wildcard`,
      );
    }
    if (hosts.includes(alias)) {
      throw new TypeError(
        `Invalid redirect_from ${quoteValue(alias)}: it is a host of the route`,
      );
    }
  }
  return aliases;
}

const MAX_HEADERS = 32;

/**
 * The headers of the labels starting with `prefix`, by name without case;
 * `headerLabels` has those labels by prefix, sorted.
 */
function headers(
  labels: Readonly<Record<string, string>>,
  prefix: string,
  headerLabels: ReadonlyMap<string, readonly string[]>,
): Header[] {
  const out: Header[] = [];
  const seen = new Set<string>();
  for (const label of headerLabels.get(prefix) ?? []) {
    try {
      const name = parseHeaderName(label.slice(prefix.length));
      const lower = name.toLowerCase();
      if (seen.has(lower)) {
        throw new TypeError(`header ${name} is set by two labels`);
      }
      seen.add(lower);
      if (out.length === MAX_HEADERS) {
        throw new RangeError(`more than ${MAX_HEADERS} headers`);
      }
      out.push({ name, value: parseHeaderValue(labels[label] ?? "") });
    } catch (error) {
      throw new LabelError(label, errorMessage(error));
    }
  }
  return out;
}
