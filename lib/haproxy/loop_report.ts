/**
 * What the loop tells the operator: one log line per container and
 * decision (a finding, a damped container, a server routed, moved or
 * unrouted, with the reason), each said once while it lasts, what befell
 * the managed HAProxy, and the metrics of what is not routed.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import {
  type ContainerRecord,
  isServing,
  type UnreadableRecord,
} from "../docker/container.ts";
import { NO_TELEMETRY, type Telemetry } from "../metrics/telemetry.ts";
import type { CertDirectory } from "../tls/cert_dir.ts";
import {
  countByReason,
  unroutedOf,
  type UnroutedRow,
} from "../routing/unrouted.ts";
import type { ProcessEvent } from "./io/process.ts";
import { byMatchOrder } from "../routing/route_groups.ts";
import type { RouteChanges } from "../routing/routes.ts";
import type { Finding } from "../routing/findings.ts";
import type {
  HttpRoute,
  RouteTable,
  TcpRoute,
} from "../routing/route_types.ts";

const log = getLogger(["docker-glue", "haproxy"]);

interface Placement {
  readonly container: string;
  readonly containerId: string;
  readonly where: string;
  readonly target: string;
}

function whereOf(route: HttpRoute | TcpRoute): string {
  if (!("host" in route)) return `TCP port ${route.listen}`;
  return `${route.host || "(default host)"}${route.prefix || "/"}${
    route.settings.stripPrefix ? " (prefix stripped)" : ""
  }${route.settings.tls ? " (and HTTPS)" : ""}`;
}

/** The servers of one route, by container, backend and server name. */
function placementsOf(route: HttpRoute | TcpRoute): [string, Placement][] {
  const where = whereOf(route);
  return route.servers.map((server) => [
    `${server.containerId}\n${route.backend}\n${server.name}`,
    {
      container: server.containerName,
      containerId: server.containerId,
      where,
      target: `${server.address}:${server.port} weight ${server.weight}`,
    },
  ]);
}

/**
 * The routes of `before` not in `after` and the reverse, compared as
 * objects. Both are in `order`, in which no two routes of a table are
 * equal (their keys differ), so one pass over the two finds them.
 */
function changed<R>(
  before: readonly R[],
  after: readonly R[],
  order: (a: R, b: R) => number,
): { gone: R[]; came: R[] } {
  const gone: R[] = [];
  const came: R[] = [];
  let i = 0;
  let j = 0;
  while (i < before.length && j < after.length) {
    const a = before[i]!;
    const b = after[j]!;
    if (a === b) {
      i++;
      j++;
      continue;
    }
    const side = order(a, b);
    if (side <= 0) {
      gone.push(a);
      i++;
    }
    if (side >= 0) {
      came.push(b);
      j++;
    }
  }
  gone.push(...before.slice(i));
  came.push(...after.slice(j));
  return { gone, came };
}

function findingKey(finding: Finding): string {
  return `${finding.containerId}\n${finding.label ?? ""}\n${finding.message}`;
}

/** What an update observed, as the status page shows it. */
export interface Observed {
  /** The routes built. */
  readonly table: RouteTable;
  /** The containers not routed, with the reason. */
  readonly unrouted: readonly UnroutedRow[];
  /** The certificates served, with their expiry. */
  readonly certificates: readonly { host: string; notAfter: Date }[];
}

/** The loop's log and metrics of routes, findings and damping. */
export class LoopReport {
  #seen: Observed | null = null;
  #placed = new Map<string, Placement>();
  /** The routes of the last table placed. */
  #http: readonly HttpRoute[] = [];
  #tcp: readonly TcpRoute[] = [];
  #reported = new Set<string>();
  #findings: readonly Finding[] = [];
  #damped: ReadonlySet<string> = new Set();

  /** Logs each finding once while it lasts, so a bad label warns once, not on every render. */
  findings(findings: readonly Finding[]): void {
    // The route builder gives the same array while its findings stay.
    if (findings === this.#findings) return;
    this.#findings = findings;
    const current = new Set<string>();
    for (const finding of findings) {
      const key = findingKey(finding);
      current.add(key);
      if (this.#reported.has(key)) continue;
      const props = {
        container: finding.container,
        label: finding.label ?? "",
        message: finding.message,
      };
      if (finding.severity === "warning") {
        if (finding.label !== undefined) {
          log.warn("Container {container}: label {label}: {message}", props);
        } else log.warn("Container {container}: {message}", props);
      } else log.info("Container {container}: {message}", props);
    }
    this.#reported = current;
  }

  /** Logs the containers newly damped, once each. */
  damped(
    containers: readonly ContainerRecord[],
    damped: ReadonlySet<string>,
  ): void {
    if (damped.size === 0) {
      this.#damped = damped;
      return;
    }
    for (const container of containers) {
      if (damped.has(container.id) && !this.#damped.has(container.id)) {
        log.info(
          "Container {container}: damped, not routed while its restart policy keeps restarting it ({count} restarts); routed once it has run for 30 s",
          { container: container.name, count: container.restartCount },
        );
      }
    }
    this.#damped = damped;
  }

  /**
   * Logs one line per server that appeared, moved or went, with the
   * reason. Routes are compared as objects: a route kept from the last
   * table (routes.ts) has the same servers, so only the routes that
   * changed are looked at.
   */
  placements({ table, changes, container: recordOf }: {
    readonly table: RouteTable;
    readonly changes: RouteChanges | null;
    readonly container: (id: string) => ContainerRecord | undefined;
  }): void {
    // The routes that changed, as the builder and the pool said, when they
    // are changes from the routes logged last.
    const http = changes?.from === this.#http
      ? { gone: changes.removed, came: changes.added }
      : changed(this.#http, table.routes, byMatchOrder);
    const tcp = changed(
      this.#tcp,
      table.tcpRoutes,
      (a, b) => a.listen - b.listen,
    );
    const gone = new Map<string, Placement>();
    for (const route of [...http.gone, ...tcp.gone]) {
      for (const [key, placed] of placementsOf(route)) {
        gone.set(key, placed);
        this.#placed.delete(key);
      }
    }
    for (const route of [...http.came, ...tcp.came]) {
      for (const [key, placed] of placementsOf(route)) {
        const before = gone.get(key) ?? this.#placed.get(key);
        gone.delete(key);
        this.#placed.set(key, placed);
        if (before === undefined) {
          log.info("Container {container}: routed {where} -> {target}", {
            ...placed,
          });
        } else if (before.target !== placed.target) {
          log.info("Container {container}: rerouted {where} -> {target}", {
            ...placed,
          });
        }
      }
    }
    for (const placed of gone.values()) {
      const container = recordOf(placed.containerId);
      const reason = container === undefined
        ? "not running"
        : this.#damped.has(container.id)
        ? "damped: restarting"
        : !isServing(container)
        ? (container.paused ? "paused" : `health ${container.health}`)
        : "labels changed or rejected";
      log.info("Container {container}: unrouted {where} ({reason})", {
        ...placed,
        reason,
      });
    }
    this.#http = table.routes;
    this.#tcp = table.tcpRoutes;
  }

  /** Tells the telemetry what is not routed and which certificates are served. */
  observe(
    telemetry: Telemetry,
    all: () => readonly ContainerRecord[],
    unreadable: () => readonly UnreadableRecord[],
    built: RouteTable,
    includeEnv: boolean,
    certs: CertDirectory | undefined,
  ): void {
    if (telemetry === NO_TELEMETRY) return;
    const unrouted = unroutedOf(
      all(),
      built.findings,
      this.#damped,
      includeEnv,
      unreadable(),
    );
    telemetry.unrouted(countByReason(unrouted));
    let certificates: { host: string; notAfter: Date }[] = [];
    if (certs !== undefined) {
      const loaded = [
        ...certs.certs,
        ...(certs.defaultCert === undefined ? [] : [certs.defaultCert]),
      ];
      certificates = loaded.flatMap(({ info }) =>
        info.names.map((host) => ({ host, notAfter: info.notAfter }))
      );
      telemetry.certificates(certificates);
    }
    this.#seen = { table: built, unrouted, certificates };
  }

  /** What the last update observed; null before the first. */
  get seen(): Observed | null {
    return this.#seen;
  }
}

const processLog = getLogger(["docker-glue", "haproxy", "process"]);

/** Logs what befell the managed HAProxy (io/process.ts). */
export function logProcess(event: ProcessEvent): void {
  switch (event.kind) {
    case "started":
      processLog.info("Started HAProxy (pid {pid}) on {file}", event);
      return;
    case "stopped":
      processLog.info("Stopped HAProxy (pid {pid}): {how}", event);
      return;
    case "leftover":
      processLog.warn(
        "Stopping HAProxy (pid {pid}) left running on {socket} by an earlier run",
        event,
      );
      return;
    case "output": {
      const props = { line: event.line };
      if (event.level === "error") processLog.error("haproxy: {line}", props);
      else if (event.level === "warning") {
        processLog.warn("haproxy: {line}", props);
      } else if (event.level === "info") {
        processLog.info("haproxy: {line}", props);
      } else processLog.debug("haproxy: {line}", props);
      return;
    }
    case "exited":
      processLog.error(
        "HAProxy (pid {pid}) exited with status {code}; starting it again in {wait} ms",
        event,
      );
      return;
    case "restart-failed":
      processLog.error("{error}", event);
      return;
    case "access-log-failed":
      processLog.error(
        "Access log {target} not written: {error}; {lost} lines lost, and those after until it can be written",
        event,
      );
  }
}
