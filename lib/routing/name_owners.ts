/**
 * One owner per name on the HTTPS listener. A host served with `tls` (HAProxy
 * terminates it) and a TLS passthrough server name (`glue_tcp_<port>_sni`)
 * are one claim on the same name: without this, the passthrough rule came
 * first and a newer container took an older one's HTTPS host, its
 * allow-list and password with it. As for any other conflict, the oldest
 * container keeps the name, and the claims of the other kind are turned
 * down with a finding. Pure.
 *
 * @module
 */

import type { Finding } from "./findings.ts";
import type { HttpClaim, TcpClaim } from "./claims.ts";
import { byAge, compare } from "./route_groups.ts";
import type { HttpRoute, TcpRoute } from "./route_types.ts";

/** Whether a claim takes part: a host served on HTTPS, or passthrough on the HTTPS listener. */
export function sharesHttpsName(claim: HttpClaim | TcpClaim): boolean {
  return "host" in claim
    ? claim.settings.tls && claim.host !== ""
    : claim.https && claim.sni !== "";
}

/** The name a {@link sharesHttpsName} claim is on. */
export function httpsName(claim: HttpClaim | TcpClaim): string {
  return "host" in claim ? claim.host : claim.sni;
}

/** The claims that lose their name, with a conflict finding each. */
export interface NameLosers {
  readonly lost: ReadonlySet<HttpClaim | TcpClaim>;
  /** By name, then by the age of the container. */
  readonly findings: readonly Finding[];
}

/**
 * The claims of one name that lose it: when both kinds claim it, those of
 * the kind the oldest claim is not.
 */
export function nameLosers(
  name: string,
  claims: Iterable<HttpClaim | TcpClaim>,
): { lost: (HttpClaim | TcpClaim)[]; findings: Finding[] } {
  const all = [...claims].sort(byAge);
  const owner = all[0];
  if (
    owner === undefined || all.every((c) => ("host" in c) === ("host" in owner))
  ) {
    return { lost: [], findings: [] };
  }
  const terminated = "host" in owner;
  const lost = all.filter((claim) => ("host" in claim) !== terminated);
  const findings = lost.map((claim): Finding => ({
    severity: "warning",
    reason: "conflict",
    container: claim.container.name,
    containerId: claim.container.id,
    label: "host" in claim
      ? `glue_http_${claim.port}_host`
      : `glue_tcp_${claim.port}_sni`,
    message: `not routed on ${name}: older container ${owner.container.name} ${
      terminated
        ? "serves it on HTTPS (tls), which passthrough cannot share"
        : "passes its TLS through (sni), which a tls route cannot share"
    }, and keeps it`,
  }));
  return { lost, findings };
}

/** {@link nameLosers} of every name, for a table built whole. */
export function allNameLosers(
  claims: Iterable<HttpClaim | TcpClaim>,
): NameLosers {
  const byName = new Map<string, (HttpClaim | TcpClaim)[]>();
  for (const claim of claims) {
    if (!sharesHttpsName(claim)) continue;
    const name = httpsName(claim);
    const list = byName.get(name);
    if (list === undefined) byName.set(name, [claim]);
    else list.push(claim);
  }
  const lost = new Set<HttpClaim | TcpClaim>();
  const findings: Finding[] = [];
  for (const name of [...byName.keys()].sort(compare)) {
    const result = nameLosers(name, byName.get(name)!);
    for (const claim of result.lost) lost.add(claim);
    findings.push(...result.findings);
  }
  return { lost, findings };
}

/**
 * The hosts HAProxy terminates (`tls`) that a passthrough wildcard on the
 * HTTPS listener would otherwise take, sorted: the SNI frontend sends them
 * to termination before it tries the wildcard, so a wildcard takes only
 * names no other route claims, exactly or by a narrower wildcard. Empty
 * (and cheap) without a passthrough wildcard.
 */
export function guardedHosts(
  routes: readonly HttpRoute[],
  tcpRoutes: readonly TcpRoute[],
): string[] {
  const suffixes = tcpRoutes.filter((route) =>
    route.https && route.sni.startsWith("*.")
  ).map((route) => route.sni.slice(1));
  if (suffixes.length === 0) return [];
  const out = new Set<string>();
  for (const route of routes) {
    if (!route.settings.tls || route.host === "") continue;
    const match = route.host.startsWith("*.")
      ? route.host.slice(1)
      : route.host;
    if (suffixes.some((suffix) => match.endsWith(suffix) && match !== suffix)) {
      out.add(route.host);
    }
  }
  return [...out].sort(compare);
}
