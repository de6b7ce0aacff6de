/**
 * The status page of a running loop, for the telemetry to serve: the last
 * table the loop observed, with the server states HAProxy reports at the
 * time of the request, and the last decisions logged.
 *
 * @module
 */

import type { Telemetry } from "../metrics/telemetry.ts";
import type { Observed } from "../haproxy/loop_report.ts";
import type { MapFiles } from "../haproxy/render/render.ts";
import { recentRecords } from "../log.ts";
import { VERSION } from "../version.ts";
import { askHAProxy } from "./haproxy_view.ts";
import { routeReport } from "./report.ts";
import { renderStatusPage } from "./status_page.ts";

/** How often the status page refreshes itself. */
const STATUS_REFRESH_S = 5;

/** Gives `telemetry` the status page of what `seen` returns. */
export function serveStatus(
  telemetry: Telemetry,
  seen: () => Observed | null,
  adminSocket: string,
  maps: Partial<MapFiles>,
): void {
  telemetry.statusPage(async (health) => {
    const last = seen();
    const table = last?.table ?? { routes: [], tcpRoutes: [], findings: [] };
    return renderStatusPage({
      now: Date.now(),
      version: VERSION,
      health,
      report: routeReport(
        table,
        last?.unrouted ?? [],
        await askHAProxy(adminSocket, maps),
      ),
      certificates: last?.certificates ?? [],
      decisions: recentRecords(),
      refreshSeconds: STATUS_REFRESH_S,
    });
  });
}
