/**
 * Which routes a configuration HAProxy rejected is at fault: from the
 * lines HAProxy's error names (each maps to a route's backend, userlist or
 * rules), or, when the error names none (a check that timed out), by
 * halving the routes that changed since the last accepted file until the
 * check passes without them. Those routes are left out (rejections.ts)
 * and the rest is installed, so one container's mistake costs its route
 * alone.
 *
 * @module
 */

import type { RenderInput } from "../render/render.ts";
import type { HttpRoute, TcpRoute } from "../../routing/route_types.ts";

/** A route of a rendered table. */
export type AnyRoute = HttpRoute | TcpRoute;

/**
 * Halving checks at most, after the check without every changed route:
 * 2^6 changed routes are narrowed to one.
 */
const MAX_HALVINGS = 6;

/** The routes whose section of `text` holds a line HAProxy's error names. */
export function namedInError(
  details: readonly string[],
  text: string,
  table: RenderInput,
): AnyRoute[] {
  const byBackend = new Map<string, AnyRoute>();
  for (const route of table.routes) byBackend.set(route.backend, route);
  for (const route of table.tcpRoutes) byBackend.set(route.backend, route);
  for (const slot of table.pool ?? []) {
    if (slot.route !== null) byBackend.set(slot.backend, slot.route);
  }
  const lines = text.split("\n");
  const found = new Set<AnyRoute>();
  const add = (route: AnyRoute | undefined) => {
    if (route !== undefined) found.add(route);
  };
  for (const detail of details) {
    // "[file:12]", "Parsing [file:12]:", "declared at file:9."
    for (const match of detail.matchAll(/(?:\[|at )[^\s[\]]+:([0-9]+)/g)) {
      const at = Number(match[1]) - 1;
      const section = sectionOf(lines, at);
      if (section === null) continue;
      if (section.kind === "frontend") {
        add(mentioned(lines[at] ?? "", byBackend));
      } else add(byBackend.get(section.name));
    }
    // "'server http_y/s1'", "backend 'http_x'"
    for (
      const match of detail.matchAll(/'server ([^/' ]+)\/|backend '([^']+)'/g)
    ) {
      add(byBackend.get(match[1] ?? match[2] ?? ""));
    }
  }
  return [...found];
}

/** The section (`backend x`, `frontend y` ...) line `at` belongs to. */
function sectionOf(
  lines: readonly string[],
  at: number,
): { kind: string; name: string } | null {
  for (let i = Math.min(at, lines.length - 1); i >= 0; i--) {
    const match =
      /^(backend|frontend|listen|userlist|defaults|global|peers|resolvers|cache|program)\b\s*(\S*)/
        .exec(lines[i] ?? "");
    if (match !== null) return { kind: match[1]!, name: match[2] ?? "" };
  }
  return null;
}

/**
 * The route a frontend line is about: the longest backend name that is a
 * word of it or begins one (ACL names start with their route's backend).
 */
function mentioned(
  line: string,
  byBackend: ReadonlyMap<string, AnyRoute>,
): AnyRoute | undefined {
  let best: string | undefined;
  for (const word of line.split(/[\s{}()]+/)) {
    for (const name of byBackend.keys()) {
      if (
        (word === name || word.startsWith(`${name}_`)) &&
        name.length > (best?.length ?? 0)
      ) best = name;
    }
  }
  return best === undefined ? undefined : byBackend.get(best);
}

/** `table` without `routes`: their pool slots become spares. */
export function without(
  table: RenderInput,
  routes: ReadonlySet<AnyRoute>,
): RenderInput {
  return {
    ...table,
    routes: table.routes.filter((route) => !routes.has(route)),
    tcpRoutes: table.tcpRoutes.filter((route) => !routes.has(route)),
    ...(table.pool === undefined ? {} : {
      pool: table.pool.map((slot) =>
        slot.route !== null && routes.has(slot.route)
          ? { ...slot, route: null }
          : slot
      ),
    }),
  };
}

/** A route as a string that is equal for equal routes, servers included. */
function fingerprint(route: AnyRoute): string {
  const { mapped: _, ...rest } = route as HttpRoute;
  return JSON.stringify(rest);
}

/** The routes of `table` that are not in `accepted`, the last table HAProxy took. */
export function changedSince(
  table: RenderInput,
  accepted: RenderInput | null,
): AnyRoute[] {
  const all: AnyRoute[] = [...table.routes, ...table.tcpRoutes];
  if (accepted === null) return all;
  const known = new Set(
    [...accepted.routes, ...accepted.tcpRoutes].map(fingerprint),
  );
  return all.filter((route) => !known.has(fingerprint(route)));
}

/**
 * The routes at fault, by halving `candidates`: `passes` checks a table.
 * Empty when the table fails without all of them too (the fault is not a
 * route's: the template, a setting), or when the one found is not the
 * only one (a template that fails with any route): leaving routes out one
 * by one would then empty the file.
 */
export async function halve(
  table: RenderInput,
  candidates: readonly AnyRoute[],
  passes: (table: RenderInput) => Promise<boolean>,
): Promise<AnyRoute[]> {
  if (candidates.length === 0) return [];
  if (!await passes(without(table, new Set(candidates)))) return [];
  let suspects = [...candidates];
  for (let i = 0; i < MAX_HALVINGS && suspects.length > 1; i++) {
    const half = suspects.slice(0, Math.ceil(suspects.length / 2));
    suspects = await passes(without(table, new Set(half)))
      ? half
      : suspects.slice(half.length);
  }
  if (suspects.length === candidates.length) return suspects;
  return await passes(without(table, new Set(suspects))) ? suspects : [];
}

/**
 * The routes at fault in a rejected file: those its error lines name when
 * the file passes without them, else what halving the routes changed since
 * `accepted` finds (see {@link halve}).
 */
export async function atFault(
  error: { readonly details: readonly string[]; readonly text: string },
  table: RenderInput,
  accepted: RenderInput | null,
  passes: (table: RenderInput) => Promise<boolean>,
): Promise<AnyRoute[]> {
  const named = namedInError(error.details, error.text, table);
  if (named.length > 0 && await passes(without(table, new Set(named)))) {
    return named;
  }
  const candidates = new Set([...named, ...changedSince(table, accepted)]);
  return await halve(table, [...candidates], passes);
}
