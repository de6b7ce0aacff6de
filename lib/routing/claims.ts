/**
 * Reads one container's `glue_*` labels into route claims: what it asks to be
 * routed, validated. Bad labels become findings instead of claims.
 *
 * @module
 */

import { matchKey, type RouteMatch } from "./route_match.ts";
import type { ContainerRecord } from "../docker/container.ts";
import { pickAddress } from "./address.ts";
import {
  parseNames,
  parsePort,
  parsePortList,
  parseSwitch,
  parseWeight,
} from "./labels.ts";
import type { Finding, UnroutedReason } from "./findings.ts";
import { parseProxyVersion, type ProxyVersion } from "./route_options.ts";
import { errorMessage } from "../util/error_message.ts";
import {
  MAX_GLUE_LABELS,
  MAX_LABEL_VALUE,
  MAX_ROUTES,
} from "./route_limits.ts";
import {
  DEFAULT_ROUTE_SETTINGS,
  LabelError,
  readHttpLabels,
  type RouteSettings,
} from "./route_settings.ts";

/** Options of the route model that come from the command line or INI params. */
export interface RouteOptions {
  /** Preferred network for container addresses (`--network`). */
  readonly network?: string | undefined;
  /** Treat environment variables as labels too; labels win (`--include-env`). */
  readonly includeEnv?: boolean;
  /** Ports HAProxy already listens on (HTTP and stats); TCP may not take them. */
  readonly reservedPorts?: readonly number[];
  /** An HTTPS frontend exists (`--https-bind`), so `tls` and `redirect_https` labels take effect. */
  readonly https?: boolean;
  /**
   * The HTTPS listener's first port, with `--https-bind`: TLS passthrough
   * (`glue_tcp_<port>_sni`) is served there unless a listen port is named.
   */
  readonly httpsPort?: number;
  /**
   * `--per-port-frontends`: as the original did, HAProxy listens on each
   * port the HTTP labels name, and a route belongs to its label port's
   * frontend. `reservedPorts` then holds the stats and HTTPS ports only.
   */
  readonly perPortFrontends?: boolean;
}

/** A container's wish to serve a host and prefix on one of its ports. */
export interface HttpClaim {
  readonly host: string;
  readonly prefix: string;
  /** The requests it takes among those of host and prefix; null for the rest. */
  readonly match: RouteMatch | null;
  readonly settings: RouteSettings;
  /** Container port (what the labels name). */
  readonly port: number;
  readonly weight: number;
  /** Per-server connection limit; 0 for none. */
  readonly maxconn: number;
  /** Where HAProxy connects. */
  readonly target: Target;
  readonly container: ContainerRecord;
}

/** The address and port HAProxy connects to for one container port. */
export interface Target {
  readonly address: string;
  readonly port: number;
}

/** A container's wish to serve TCP connections to a listen port. */
export interface TcpClaim {
  /** Port HAProxy listens on; the HTTPS port for passthrough on the HTTPS listener. */
  readonly listen: number;
  /** TLS server name picked by (`sni`), wildcards as for hosts; "" for any. */
  readonly sni: string;
  /** Passed through on the HTTPS listener (`sni` with `--https-bind`). */
  readonly https: boolean;
  /** Container port (what the labels name). */
  readonly port: number;
  readonly weight: number;
  /** PROXY protocol version the container wants (`proxy_protocol`). */
  readonly proxy?: ProxyVersion;
  /** Where HAProxy connects. */
  readonly target: Target;
  readonly container: ContainerRecord;
}

/** Everything one container claims. */
export interface Claims {
  readonly http: HttpClaim[];
  readonly tcp: TcpClaim[];
}

const HOST_LABEL = /^glue_http_(.*)_host$/s;

type Warn = (
  label: string | undefined,
  text: string,
  reason?: UnroutedReason,
) => void;

interface PortLabel {
  readonly port: number;
  readonly label: string;
}

/** HTTP ports: `glue_http_ports`, else the ports of `glue_http_<port>_host` labels. */
function httpPorts(labels: Record<string, string>, warn: Warn): PortLabel[] {
  const list = labels["glue_http_ports"];
  if (list !== undefined) {
    try {
      return parsePortList(list).map((port) => ({
        port,
        label: "glue_http_ports",
      }));
    } catch (error) {
      warn("glue_http_ports", errorMessage(error));
      return [];
    }
  }
  const ports: PortLabel[] = [];
  for (const key of Object.keys(labels).sort()) {
    const match = HOST_LABEL.exec(key);
    // `glue_http_80_request_header_X_host` is a header label, not a port's.
    if (match === null || HEADER_LABEL.test(key)) continue;
    try {
      ports.push({ port: parsePort(match[1] ?? ""), label: key });
    } catch (error) {
      warn(key, errorMessage(error));
    }
  }
  return ports;
}

/** TCP ports: `glue_tcp_ports`. */
function tcpPorts(labels: Record<string, string>, warn: Warn): PortLabel[] {
  const list = labels["glue_tcp_ports"];
  if (list === undefined) return [];
  try {
    return parsePortList(list).map((port) => ({
      port,
      label: "glue_tcp_ports",
    }));
  } catch (error) {
    warn("glue_tcp_ports", errorMessage(error));
    return [];
  }
}

/** What a claim of a container needs beside its labels. */
interface ClaimContext {
  readonly container: ContainerRecord;
  readonly labels: Readonly<Record<string, string>>;
  readonly options: RouteOptions;
  readonly warn: Warn;
  /** Notes a finding that routes anyway. */
  readonly note: (finding: Pick<Finding, "label" | "message">) => void;
  /** Where a port of the container is reached, or null (said). */
  readonly targetOf: (port: number, label: string) => Target | null;
  /** Whether a port may be routed as exposed (said when not). */
  readonly exposed: (port: number, label: string) => boolean;
}

/**
 * Reads a container's claims. The caller decides whether the container is
 * serving; this only reads labels, ports and addresses.
 */
export function claimsOf(
  container: ContainerRecord,
  options: RouteOptions,
  findings: Finding[],
): Claims {
  const base = { container: container.name, containerId: container.id };
  const warn: Warn = (label, text, reason = "bad-label") =>
    findings.push({
      ...base,
      severity: "warning",
      reason,
      ...(label === undefined ? {} : { label }),
      message: text,
    });
  const note = (finding: Pick<Finding, "label" | "message">) =>
    findings.push({ ...base, severity: "info", ...finding });
  const labels = glueLabels(
    options.includeEnv
      ? { ...container.env, ...container.labels }
      : container.labels,
    warn,
  );
  if (labels === null) return { http: [], tcp: [] };
  let http = httpPorts(labels, warn);
  let tcp = tcpPorts(labels, warn);
  // A port cannot be both: which one the operator meant is a guess, so
  // neither is routed.
  const both = new Set(
    http.map((p) => p.port).filter((port) => tcp.some((t) => t.port === port)),
  );
  for (const port of both) {
    warn(
      "glue_tcp_ports",
      `port ${port} is labelled for both HTTP and TCP; routed as neither`,
    );
  }
  http = http.filter((p) => !both.has(p.port));
  tcp = tcp.filter((p) => !both.has(p.port));
  if (http.length === 0 && tcp.length === 0) return { http: [], tcp: [] };
  const targetOf = targets(container, labels, options, warn, note);
  if (targetOf === null) return { http: [], tcp: [] };
  const context: ClaimContext = {
    container,
    labels,
    options,
    warn,
    note,
    targetOf,
    // On this host's engine the label names the port: that is the
    // declaration, whatever the image exposes. Another host's container
    // is reached on a published port, which must be exposed.
    exposed: (port, label) => {
      if (container.host === undefined) return true;
      if (container.exposedPorts.includes(`${port}/tcp`)) return true;
      warn(
        label,
        `port ${port} is not exposed (expose ${port}/tcp to route it)`,
        "not-exposed",
      );
      return false;
    },
  };
  const httpClaims = httpClaimsOf(context, http);
  const tcpClaims = tcpClaimsOf(context, tcp);
  const routes = new Set([
    ...httpClaims.map((c) =>
      `${c.port} ${c.host} ${c.prefix} ${matchKey(c.match)}`
    ),
    ...tcpClaims.map((c) => `${c.listen} ${c.sni}`),
  ]).size;
  if (routes > MAX_ROUTES) {
    warn(
      undefined,
      `not routed: the labels ask for ${routes} routes, more than ${MAX_ROUTES} for one container`,
    );
    return { http: [], tcp: [] };
  }
  return { http: httpClaims, tcp: tcpClaims };
}

/**
 * Where the container's ports are reached: a container on this host on its
 * own IP and port; one read from etcd (possibly on another host) on its
 * published port at its host's advertise address. Null (said) when the
 * container has no address to route to.
 */
function targets(
  container: ContainerRecord,
  labels: Readonly<Record<string, string>>,
  options: RouteOptions,
  warn: Warn,
  note: ClaimContext["note"],
): ((port: number, label: string) => Target | null) | null {
  const remote = container.host;
  if (remote !== undefined) {
    return (port, label) => {
      const bindings = container.publishedPorts.filter((p) =>
        p.port === `${port}/tcp`
      );
      const binding = bindings.find((p) =>
        p.hostIp === remote.advertiseAddress
      ) ??
        bindings.find((p) => p.hostIp === "0.0.0.0" || p.hostIp === "::") ??
        bindings[0];
      if (binding === undefined) {
        warn(
          label,
          `port ${port} is not published on host ${remote.id} (publish it with -p to route it from another host)`,
          "not-published",
        );
        return null;
      }
      return { address: remote.advertiseAddress, port: binding.hostPort };
    };
  }
  let ipv6 = false;
  try {
    ipv6 = parseSwitch(labels["glue_ipv6"] ?? "0");
  } catch (error) {
    warn("glue_ipv6", `not routed: ${errorMessage(error)}`);
    return null;
  }
  try {
    const choice = pickAddress(
      container,
      labels["glue_network"],
      options.network,
      ipv6,
    );
    if (choice.note !== undefined) note({ message: choice.note });
    const { address } = choice;
    return (port) => ({ address, port });
  } catch (error) {
    warn(
      labels["glue_network"] ? "glue_network" : undefined,
      `not routed: ${errorMessage(error)}`,
      "no-address",
    );
    return null;
  }
}

/** The HTTP claims of the container's HTTP label ports. */
function httpClaimsOf(
  context: ClaimContext,
  ports: readonly { port: number; label: string }[],
): HttpClaim[] {
  const { container, labels, options, warn, note } = context;
  const headerLabels = headerLabelsByPrefix(labels);
  const claims: HttpClaim[] = [];
  for (const { port, label } of ports) {
    if (options.perPortFrontends && options.reservedPorts?.includes(port)) {
      warn(
        label,
        `port ${port} not routed: HAProxy's stats or HTTPS listener takes that port, and with --per-port-frontends HAProxy listens on each HTTP label port`,
      );
      continue;
    }
    if (!context.exposed(port, label)) continue;
    const target = context.targetOf(port, label);
    if (target === null) continue;
    try {
      const read = readHttpLabels(labels, port, headerLabels);
      let settings = read.settings;
      if (settings.tls && !options.https) {
        note({
          label: `glue_http_${port}_${
            settings.redirectHttps ? "redirect_https" : "tls"
          }`,
          message:
            `port ${port} is served on plain HTTP only: HTTPS is off (start with --https-bind to serve it)`,
        });
        settings = { ...settings, tls: false, redirectHttps: false };
      }
      if (settings.hsts !== null && !settings.tls && options.https) {
        note({
          label: `glue_http_${port}_hsts`,
          message:
            `port ${port}: hsts is sent on HTTPS responses only, and this route is on plain HTTP (label tls=1 to serve it on HTTPS)`,
        });
      }
      const claim = (
        host: string,
        prefix: string,
        match: RouteMatch | null,
        claimed: RouteSettings,
      ): HttpClaim => ({
        host,
        prefix,
        match,
        settings: claimed,
        port,
        weight: read.weight,
        maxconn: read.maxconn,
        target,
        container,
      });
      // Each redirect_from name is a claim on its name, like a host, so a
      // conflict with another container's route on it is reported and the
      // older keeps it.
      const redirect: RouteSettings = {
        ...DEFAULT_ROUTE_SETTINGS,
        tls: settings.tls,
        redirectTo: read.hosts[0] ?? "",
      };
      claims.push(
        ...read.aliases.map((alias) => claim(alias, "", null, redirect)),
        ...read.hosts.map((host) =>
          claim(host, read.prefix, read.match, settings)
        ),
      );
    } catch (error) {
      warn(
        error instanceof LabelError ? error.label : `glue_http_${port}_host`,
        `port ${port} not routed: ${errorMessage(error)}`,
      );
    }
  }
  return claims;
}

/** The TCP claims of the container's `glue_tcp_ports`. */
function tcpClaimsOf(
  context: ClaimContext,
  ports: readonly { port: number; label: string }[],
): TcpClaim[] {
  const { container, labels, options, warn } = context;
  const claims: TcpClaim[] = [];
  for (const { port, label } of ports) {
    if (!context.exposed(port, label)) continue;
    const target = context.targetOf(port, label);
    if (target === null) continue;
    let current = `glue_tcp_${port}_weight`;
    try {
      const weight = parseWeight(labels[current] ?? "100");
      current = `glue_tcp_${port}_proxy_protocol`;
      const proxyLabel = labels[current];
      const proxy = proxyLabel === undefined
        ? undefined
        : parseProxyVersion(proxyLabel);
      current = `glue_tcp_${port}_sni`;
      const sniLabel = labels[current];
      const sni = sniLabel === undefined ? [""] : parseNames(sniLabel);
      current = `glue_tcp_${port}_listen`;
      const listenLabel = labels[current];
      // TLS passthrough shares the HTTPS listener unless a port is named.
      const httpsPort = sniLabel !== undefined && listenLabel === undefined
        ? options.httpsPort
        : undefined;
      const https = httpsPort !== undefined;
      const listen = httpsPort ??
        (listenLabel === undefined ? port : parsePort(listenLabel));
      if (!https && options.reservedPorts?.includes(listen)) {
        throw new RangeError(
          `listen port ${listen} is taken by HAProxy's HTTP or stats listener`,
        );
      }
      for (const host of sni) {
        claims.push({
          listen,
          port,
          weight,
          ...(proxy === undefined ? {} : { proxy }),
          sni: host,
          https,
          target,
          container,
        });
      }
    } catch (error) {
      warn(current, `TCP port ${port} not routed: ${errorMessage(error)}`);
    }
  }
  return claims;
}

/**
 * The `glue_*` labels of a container within the limits: a value longer
 * than {@link MAX_LABEL_VALUE} is dropped with a finding (and with it what
 * it would route); more than {@link MAX_GLUE_LABELS} of them and nothing is
 * read (null), since which to drop would be a guess.
 */
function glueLabels(
  given: Readonly<Record<string, string>>,
  warn: Warn,
): Record<string, string> | null {
  const labels: Record<string, string> = {};
  let count = 0;
  for (const [key, value] of Object.entries(given)) {
    if (!key.startsWith("glue_")) continue;
    if (++count > MAX_GLUE_LABELS) {
      const all = Object.keys(given).filter((k) => k.startsWith("glue_"));
      warn(
        undefined,
        `not routed: ${all.length} glue_* labels, more than ${MAX_GLUE_LABELS}`,
      );
      return null;
    }
    if (value.length > MAX_LABEL_VALUE) {
      warn(
        key,
        `label not read: its value is ${value.length} characters, more than ${MAX_LABEL_VALUE}`,
      );
      continue;
    }
    labels[key] = value;
  }
  return labels;
}

const HEADER_LABEL = /^(glue_http_[0-9]+_(?:request|response)_header_)/;

/**
 * The header labels by their prefix up to the header name, each list
 * sorted: one pass over the labels, whatever the number of ports.
 */
function headerLabelsByPrefix(
  labels: Readonly<Record<string, string>>,
): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const key of Object.keys(labels).sort()) {
    const prefix = HEADER_LABEL.exec(key)?.[1];
    if (prefix === undefined) continue;
    const list = out.get(prefix);
    if (list === undefined) out.set(prefix, [key]);
    else list.push(key);
  }
  return out;
}
