/**
 * The HTTP route model: a pure function from container records to the routing
 * table HAProxy is rendered from, plus what was rejected and why.
 *
 * @module
 */

import { type ContainerRecord, isServing } from "../docker/container.ts";
import { pickAddress } from "./address.ts";
import {
  parseHostList,
  parsePort,
  parsePortList,
  parsePrefix,
  parseSwitch,
  parseWeight,
} from "./labels.ts";

/** Options of the route model that come from the command line or INI params. */
export interface RouteOptions {
  /** Preferred network for container addresses (`--network`). */
  readonly network?: string | undefined;
  /** Treat environment variables as labels too; labels win (`--include-env`). */
  readonly includeEnv?: boolean;
}

/** One server line of a backend. */
export interface Server {
  /** HAProxy server name, unique within its backend. */
  readonly name: string;
  /** Container the server points at. */
  readonly containerId: string;
  /** Container name, for logs. */
  readonly containerName: string;
  /** IP address of the container. */
  readonly address: string;
  /** Container port. */
  readonly port: number;
  /** HAProxy weight, 0-256. */
  readonly weight: number;
}

/** All containers serving one host and path prefix. */
export interface HttpRoute {
  /** Lower-case host, `*.domain` for any subdomain, "" for the default backend. */
  readonly host: string;
  /** Path prefix starting with `/`, or "" for every path. */
  readonly prefix: string;
  /** Whether the prefix is removed before the request reaches the servers. */
  readonly stripPrefix: boolean;
  /** HAProxy backend name, unique in the table. */
  readonly backend: string;
  /** Servers, ordered by name. */
  readonly servers: readonly Server[];
}

/** Something about a container worth telling the operator. */
export interface Finding {
  /** `warning` loses a route; `info` explains a choice. */
  readonly severity: "warning" | "info";
  /** Container name. */
  readonly container: string;
  /** Container id. */
  readonly containerId: string;
  /** The label at fault, when one is. */
  readonly label?: string;
  /** What happened, in words. */
  readonly message: string;
}

/** The output of the route model. */
export interface RouteTable {
  /** Routes in match order: most specific first. */
  readonly routes: readonly HttpRoute[];
  /** Warnings and notes, in container order. */
  readonly findings: readonly Finding[];
}

interface Claim {
  readonly host: string;
  readonly prefix: string;
  readonly stripPrefix: boolean;
  readonly port: number;
  readonly weight: number;
  readonly address: string;
  readonly container: ContainerRecord;
}

const HOST_LABEL = /^glue_http_(.*)_host$/s;

function labelsOf(
  container: ContainerRecord,
  includeEnv: boolean,
): Record<string, string> {
  return includeEnv
    ? { ...container.env, ...container.labels }
    : { ...container.labels };
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Reads the ports a container asks to be routed, reporting bad port labels. */
function portsOf(
  container: ContainerRecord,
  labels: Record<string, string>,
  findings: Finding[],
): { port: number; label: string }[] {
  const warn = (label: string, text: string) =>
    findings.push({
      severity: "warning",
      container: container.name,
      containerId: container.id,
      label,
      message: text,
    });
  const list = labels["glue_http_ports"];
  if (list !== undefined) {
    try {
      return parsePortList(list).map((port) => ({
        port,
        label: "glue_http_ports",
      }));
    } catch (error) {
      warn("glue_http_ports", message(error));
      return [];
    }
  }
  const ports: { port: number; label: string }[] = [];
  for (const key of Object.keys(labels).sort()) {
    const match = HOST_LABEL.exec(key);
    if (match === null) continue;
    try {
      ports.push({ port: parsePort(match[1] ?? ""), label: key });
    } catch (error) {
      warn(key, message(error));
    }
  }
  return ports;
}

/** Turns one container's labels into route claims, or findings when they are bad. */
function claimsOf(
  container: ContainerRecord,
  options: RouteOptions,
  findings: Finding[],
): Claim[] {
  const labels = labelsOf(container, options.includeEnv ?? false);
  const ports = portsOf(container, labels, findings);
  if (ports.length === 0) return [];
  const base = { container: container.name, containerId: container.id };
  let address: string;
  try {
    const choice = pickAddress(
      container,
      labels["glue_network"],
      options.network,
    );
    address = choice.address;
    if (choice.note !== undefined) {
      findings.push({ ...base, severity: "info", message: choice.note });
    }
  } catch (error) {
    findings.push({
      ...base,
      severity: "warning",
      ...(labels["glue_network"] ? { label: "glue_network" } : {}),
      message: `not routed: ${message(error)}`,
    });
    return [];
  }
  const claims: Claim[] = [];
  for (const { port, label: portLabel } of ports) {
    if (!container.exposedPorts.includes(`${port}/tcp`)) {
      findings.push({
        ...base,
        severity: "warning",
        label: portLabel,
        message: `port ${port} is not exposed (expose ${port}/tcp to route it)`,
      });
      continue;
    }
    let current = `glue_http_${port}_host`;
    try {
      const hosts = parseHostList(labels[current] ?? "");
      current = `glue_http_${port}_prefix`;
      const prefix = parsePrefix(labels[current] ?? "");
      current = `glue_http_${port}_strip_prefix`;
      const strip = parseSwitch(labels[current] ?? "0");
      current = `glue_http_${port}_weight`;
      const weight = parseWeight(labels[current] ?? "100");
      for (const host of hosts) {
        claims.push({
          host,
          prefix,
          // Stripping an empty prefix changes nothing; treat it as off so it
          // cannot conflict with a container that left the label out.
          stripPrefix: strip && prefix !== "",
          port,
          weight,
          address,
          container,
        });
      }
    } catch (error) {
      findings.push({
        ...base,
        severity: "warning",
        label: current,
        message: `port ${port} not routed: ${message(error)}`,
      });
    }
  }
  return claims;
}

/** Orders claims so the earliest-created container wins a conflict. */
function byAge(a: Claim, b: Claim): number {
  return compare(a.container.created, b.container.created) ||
    compare(a.container.name, b.container.name) || a.port - b.port;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Match order: named hosts before the default host, longer hosts first (an
 * exact host before a wildcard of the same length), then longer prefixes
 * first, so `/dashboard/horizon` is tested before `/`.
 */
export function compareRoutes(
  a: Pick<HttpRoute, "host" | "prefix">,
  b: Pick<HttpRoute, "host" | "prefix">,
): number {
  if ((a.host === "") !== (b.host === "")) return a.host === "" ? 1 : -1;
  if (a.host.length !== b.host.length) return b.host.length - a.host.length;
  const aWild = a.host.startsWith("*.");
  const bWild = b.host.startsWith("*.");
  if (aWild !== bWild) return aWild ? 1 : -1;
  return compare(a.host, b.host) || b.prefix.length - a.prefix.length ||
    compare(a.prefix, b.prefix);
}

function sanitizeName(value: string): string {
  return value.replace(/[^A-Za-z0-9._:-]/g, "_");
}

function backendName(host: string, prefix: string): string {
  const hostPart = host === "" ? "default" : host.replace(/^\*\./, "wildcard.");
  return sanitizeName(`http_${hostPart}${prefix === "" ? "" : prefix}`);
}

/**
 * Builds the HTTP routing table from container records. Containers that are
 * not serving (stopped, paused, unhealthy, still starting) are left out;
 * containers with bad labels lose the affected route and get a finding.
 */
export function buildRoutes(
  containers: readonly ContainerRecord[],
  options: RouteOptions = {},
): RouteTable {
  const findings: Finding[] = [];
  const groups = new Map<string, Claim[]>();
  const sorted = [...containers].sort((a, b) =>
    compare(a.name, b.name) || compare(a.id, b.id)
  );
  for (const container of sorted) {
    if (!isServing(container)) continue;
    for (const claim of claimsOf(container, options, findings)) {
      const key = `${claim.host}\n${claim.prefix}`;
      const group = groups.get(key);
      if (group === undefined) groups.set(key, [claim]);
      else group.push(claim);
    }
  }
  const routes: HttpRoute[] = [];
  for (const claims of groups.values()) {
    claims.sort(byAge);
    const winner = claims[0];
    if (winner === undefined) continue;
    const servers: Server[] = [];
    for (const claim of claims) {
      if (claim.stripPrefix !== winner.stripPrefix) {
        findings.push({
          severity: "warning",
          container: claim.container.name,
          containerId: claim.container.id,
          label: `glue_http_${claim.port}_strip_prefix`,
          message: `not routed on ${claim.host || "(default)"}${
            claim.prefix || "/"
          }: strip_prefix=${
            claim.stripPrefix ? 1 : 0
          } conflicts with older container ${winner.container.name} (strip_prefix=${
            winner.stripPrefix ? 1 : 0
          }), which keeps the route`,
        });
        continue;
      }
      servers.push({
        name: sanitizeName(`${claim.container.name}:${claim.port}`),
        containerId: claim.container.id,
        containerName: claim.container.name,
        address: claim.address,
        port: claim.port,
        weight: claim.weight,
      });
    }
    servers.sort((a, b) => compare(a.name, b.name));
    routes.push({
      host: winner.host,
      prefix: winner.prefix,
      stripPrefix: winner.stripPrefix,
      backend: "",
      servers,
    });
  }
  routes.sort(compareRoutes);
  const used = new Set<string>();
  const named = routes.map((route) => {
    const base = backendName(route.host, route.prefix);
    let name = base;
    for (let n = 2; used.has(name); n++) name = `${base}_${n}`;
    used.add(name);
    return { ...route, backend: name };
  });
  return { routes: named, findings };
}
