/**
 * What HAProxy says of its servers and host maps over the admin socket, for
 * `routes` and the status page.
 *
 * @module
 */

import { errorMessage } from "../util/error_message.ts";
import type { HAProxyView } from "./report.ts";
import { AdminSocket } from "../haproxy/io/runtime.ts";
import type { MapFiles } from "../haproxy/render/render.ts";

/** Server states and host maps from HAProxy's admin socket; never throws but for a missing permission. */
export async function askHAProxy(
  statsSocket: string,
  maps: Partial<MapFiles>,
): Promise<HAProxyView> {
  if (statsSocket === "") {
    return {
      states: null,
      hostBackends: new Map(),
      error: "no admin socket (--stats-socket '')",
    };
  }
  const admin = new AdminSocket(statsSocket);
  try {
    const states = await admin.servers();
    const hostBackends = new Map<string, string>();
    for (const file of [maps.http, maps.https, maps.redirect]) {
      if (file === undefined) continue;
      for (const [host, backend] of await admin.mapEntries(file)) {
        hostBackends.set(host, backend);
      }
    }
    return { states, hostBackends };
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) throw error;
    return {
      states: null,
      hostBackends: new Map(),
      error: errorMessage(error),
    };
  }
}
