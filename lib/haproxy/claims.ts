/**
 * Reads one container's `glue_*` labels into route claims: what it asks to be
 * routed, validated. Bad labels become findings instead of claims.
 *
 * @module
 */

import type { ContainerRecord } from "../docker/container.ts";
import { pickAddress } from "./address.ts";
import {
  parseHost,
  parsePort,
  parsePortList,
  parseSwitch,
  parseWeight,
} from "./labels.ts";
import type { Finding, UnroutedReason } from "./findings.ts";
import { errorMessage } from "../util/error_message.ts";
import {
  DEFAULT_ROUTE_SETTINGS,
  LabelError,
  readHttpLabels,
  type RouteSettings,
  SETTING_LABELS,
} from "./route_settings.ts";

export type { Finding, RouteSettings, UnroutedReason };
export { DEFAULT_ROUTE_SETTINGS, SETTING_LABELS };

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
  /** Where HAProxy connects. */
  readonly target: Target;
  readonly container: ContainerRecord;
}

/** Everything one container claims. */
export interface Claims {
  readonly http: HttpClaim[];
  readonly tcp: TcpClaim[];
}

// The port is what stands between `glue_http_` and `_host`, with no `_`:
// `glue_http_80_request_header_X_host` is a header label, not a port's.
const HOST_LABEL = /^glue_http_([^_]*)_host$/;

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
    if (match === null) continue;
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

/** Parses the server names of TLS passthrough: one or more hosts, none empty. */
function parseSniList(value: string): string[] {
  return [...new Set(value.split(",").map((part) => parseHost(part.trim())))];
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
  const labels = options.includeEnv
    ? { ...container.env, ...container.labels }
    : { ...container.labels };
  const base = { container: container.name, containerId: container.id };
  const warn: Warn = (label, text, reason = "bad-label") =>
    findings.push({
      ...base,
      severity: "warning",
      reason,
      ...(label === undefined ? {} : { label }),
      message: text,
    });
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

  // A container on this host is reached on its own IP and port; one read
  // from etcd (possibly on another host) on its published port at its host's
  // advertise address.
  let targetOf: (port: number, label: string) => Target | null;
  const remote = container.host;
  if (remote !== undefined) {
    targetOf = (port, label) => {
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
  } else {
    let ipv6 = false;
    try {
      ipv6 = parseSwitch(labels["glue_ipv6"] ?? "0");
    } catch (error) {
      warn("glue_ipv6", `not routed: ${errorMessage(error)}`);
      return { http: [], tcp: [] };
    }
    let address: string;
    try {
      const choice = pickAddress(
        container,
        labels["glue_network"],
        options.network,
        ipv6,
      );
      address = choice.address;
      if (choice.note !== undefined) {
        findings.push({ ...base, severity: "info", message: choice.note });
      }
    } catch (error) {
      warn(
        labels["glue_network"] ? "glue_network" : undefined,
        `not routed: ${errorMessage(error)}`,
        "no-address",
      );
      return { http: [], tcp: [] };
    }
    targetOf = (port) => ({ address, port });
  }
  const exposed = (port: number, label: string) => {
    if (container.exposedPorts.includes(`${port}/tcp`)) return true;
    warn(
      label,
      `port ${port} is not exposed (expose ${port}/tcp to route it)`,
      "not-exposed",
    );
    return false;
  };

  const httpClaims: HttpClaim[] = [];
  for (const { port, label } of http) {
    if (options.perPortFrontends && options.reservedPorts?.includes(port)) {
      warn(
        label,
        `port ${port} not routed: HAProxy's stats or HTTPS listener takes that port, and with --per-port-frontends HAProxy listens on each HTTP label port`,
      );
      continue;
    }
    if (!exposed(port, label)) continue;
    const target = targetOf(port, label);
    if (target === null) continue;
    try {
      const read = readHttpLabels(labels, port);
      let settings = read.settings;
      if (settings.tls && !options.https) {
        findings.push({
          ...base,
          severity: "info",
          label: `glue_http_${port}_${
            settings.redirectHttps ? "redirect_https" : "tls"
          }`,
          message:
            `port ${port} is served on plain HTTP only: HTTPS is off (start with --https-bind to serve it)`,
        });
        settings = { ...settings, tls: false, redirectHttps: false };
      }
      if (settings.hsts !== null && !settings.tls && options.https) {
        findings.push({
          ...base,
          severity: "info",
          label: `glue_http_${port}_hsts`,
          message:
            `port ${port}: hsts is sent on HTTPS responses only, and this route is on plain HTTP (label tls=1 to serve it on HTTPS)`,
        });
      }
      for (const host of read.hosts) {
        httpClaims.push({
          host,
          prefix: read.prefix,
          settings,
          port,
          weight: read.weight,
          maxconn: read.maxconn,
          target,
          container,
        });
      }
    } catch (error) {
      warn(
        error instanceof LabelError ? error.label : `glue_http_${port}_host`,
        `port ${port} not routed: ${errorMessage(error)}`,
      );
    }
  }

  const tcpClaims: TcpClaim[] = [];
  for (const { port, label } of tcp) {
    if (!exposed(port, label)) continue;
    const target = targetOf(port, label);
    if (target === null) continue;
    let current = `glue_tcp_${port}_weight`;
    try {
      const weight = parseWeight(labels[current] ?? "100");
      current = `glue_tcp_${port}_sni`;
      const sniLabel = labels[current];
      const sni = sniLabel === undefined ? [""] : parseSniList(sniLabel);
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
        tcpClaims.push({
          listen,
          port,
          weight,
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
  return { http: httpClaims, tcp: tcpClaims };
}
