/**
 * The status page `GET /` serves on `--metrics-listen`: every route and
 * server with the state HAProxy reports, the containers not routed with
 * their reason, the certificates with their expiry and the last decisions.
 * Plain HTML written here, refreshed by the browser (`<meta refresh>`): no
 * script, no framework, nothing to build. Pure: the caller gathers the
 * view.
 *
 * @module
 */

import type { HealthAnswer } from "../metrics/telemetry.ts";
import type { RecentRecord } from "../log.ts";
import type { RouteReport, RouteRow, ServerRow } from "./report.ts";
import { escapeHtml } from "../util/html.ts";

/** Everything the page shows. */
export interface StatusView {
  /** When the page is rendered (ms since the epoch). */
  readonly now: number;
  /** The program's version. */
  readonly version: string;
  /** As `/healthz` answers. */
  readonly health: HealthAnswer;
  /** The routes and the containers not routed, as `routes` reports them. */
  readonly report: RouteReport;
  /** Certificates served, with their expiry. */
  readonly certificates: readonly { host: string; notAfter: Date }[];
  /** The last decisions logged, oldest first. */
  readonly decisions: readonly RecentRecord[];
  /** Seconds between refreshes. */
  readonly refreshSeconds: number;
}

/** Days left below which a certificate is shown as a warning. */
const CERT_WARN_DAYS = 14;

const e = escapeHtml;

function time(ms: number): string {
  return new Date(ms).toISOString().replace("T", " ").slice(0, 19) + " UTC";
}

function where(route: RouteRow): string {
  if (route.frontend === "tcp") return `TCP port ${route.listen}`;
  const host = route.host || "(any host)";
  const port = route.listen ? ` on port ${route.listen}` : "";
  return `${host}${route.prefix || "/"}${port}`;
}

function server(row: ServerRow): string {
  return `<li><span class="state ${e(row.state)}">${e(row.state)}</span> ${
    e(row.container)
  } <span class="quiet">${
    e(row.address)
  }:${row.port} weight ${row.weight}</span></li>`;
}

function routeRow(route: RouteRow): string {
  const frontend = route.redirect
    ? `${route.frontend} (redirect)`
    : route.frontend;
  return `<tr><td>${e(where(route))}</td><td>${e(frontend)}</td><td><ul>${
    route.servers.map(server).join("")
  }</ul></td><td>${e(route.options.join(", ")) || "-"}</td></tr>`;
}

function table(
  headers: readonly string[],
  rows: readonly string[],
  empty: string,
): string {
  if (rows.length === 0) return `<p class="quiet">${e(empty)}</p>`;
  return `<table><thead><tr>${
    headers.map((h) => `<th>${e(h)}</th>`).join("")
  }</tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

/** The page's look: plain, readable without JavaScript or any request beyond the page. */
const STYLE =
  `body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; margin: 0; } h2 { font-size: 1.1em; margin-top: 1.6em; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: .3em .6em; border-bottom: 1px solid #ddd; }
th { background: #f4f4f4; } ul, ol { margin: 0; padding-left: 1.2em; }
ul { list-style: none; padding: 0; }
.quiet { color: #777; } .warn, .warning, .error { color: #a40; }
.state { display: inline-block; min-width: 4.5em; text-align: center; border-radius: 3px; font-size: .85em; background: #ccc; }
.state.up { background: #bfe5bf; } .state.down, .state.maint, .state.absent { background: #f3b9b9; }
.state.drain, .state.stopping, .state.starting { background: #f6e2a8; }
.health { font-weight: bold; } .health.ok { color: #171; } .health.bad { color: #a11; }
.log li { font-family: ui-monospace, monospace; font-size: .9em; }
`;

/** The whole page. */
export function renderStatusPage(view: StatusView): string {
  const { report, health } = view;
  const servers = report.routes.reduce((n, r) => n + r.servers.length, 0);
  const count = (n: number, one: string) => `${n} ${one}${n === 1 ? "" : "s"}`;
  const summary = `${count(report.routes.length, "route")}, ${
    count(servers, "server")
  }, ${report.unrouted.length} not routed`;
  const routes = table(
    ["route", "frontend", "servers (state as HAProxy reports it)", "options"],
    report.routes.map(routeRow),
    "No routes: no running container asks for one.",
  );
  const unrouted = table(
    ["container", "reason", "label", "detail"],
    report.unrouted.map((row) =>
      `<tr><td>${e(row.container)}</td><td>${e(row.reason)}</td><td>${
        e(row.label ?? "-")
      }</td><td>${e(row.detail)}</td></tr>`
    ),
    "Every container that asks for a route has one.",
  );
  const certs = table(
    ["name", "expires", "days left"],
    [...view.certificates].sort((a, b) =>
      a.notAfter.getTime() - b.notAfter.getTime()
    ).map(({ host, notAfter }) => {
      const days = Math.floor((notAfter.getTime() - view.now) / 86_400_000);
      return `<tr${days < CERT_WARN_DAYS ? ' class="warn"' : ""}><td>${
        e(host)
      }</td><td>${e(time(notAfter.getTime()))}</td><td>${days}</td></tr>`;
    }),
    "No certificates served.",
  );
  const decisions = view.decisions.length === 0
    ? `<p class="quiet">Nothing decided yet.</p>`
    : `<ul class="log">${
      [...view.decisions].reverse().map((d) =>
        `<li class="${e(d.level)}"><span class="quiet">${
          e(time(d.at).slice(11, 19))
        }</span> ${e(d.text)}</li>`
      ).join("")
    }</ul>`;
  const haproxyError = report.haproxyError === undefined
    ? ""
    : `<p class="warn">HAProxy was not asked for its states: ${
      e(report.haproxyError)
    }</p>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="${view.refreshSeconds}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>docker-glue: ${e(summary)}</title>
<style>
${STYLE}</style>
</head>
<body>
<header>
<h1>docker-glue</h1>
<p class="health ${health.healthy ? "ok" : "bad"}">${
    health.healthy ? "Healthy" : "Unhealthy"
  }: ${e(health.text.trim().split("\n").join("; "))}</p>
<p class="quiet">${e(summary)}. Version ${e(view.version)}; shown at ${
    e(time(view.now))
  }, refreshed every ${view.refreshSeconds} s. Also: <a href="/metrics">/metrics</a>, <a href="/healthz">/healthz</a>.</p>
</header>
<section id="routes"><h2>Routes</h2>${haproxyError}${routes}</section>
<section id="unrouted"><h2>Not routed</h2>${unrouted}</section>
<section id="certificates"><h2>Certificates</h2>${certs}</section>
<section id="decisions"><h2>Last decisions</h2>${decisions}</section>
</body>
</html>
`;
}
