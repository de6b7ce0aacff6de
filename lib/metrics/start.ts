/**
 * Starts the `--metrics-listen` listener for an entry point. The metrics
 * library and the listener are loaded only when the flag is given.
 *
 * @module
 */

import type { ListenAddress } from "./server.ts";
import type { PageLogin } from "./page_access.ts";
import type { Telemetry } from "./telemetry.ts";

/** A running metrics listener. */
export interface MetricsListener {
  /** What the agent and its handlers report to. */
  readonly telemetry: Telemetry;
  /** Stops listening. */
  close(): Promise<void>;
}

/**
 * Listens on `address`; the status page wants `login` when one is given.
 *
 * @throws when the address cannot be bound (in use, not allowed).
 */
export async function startMetrics(
  address: ListenAddress,
  login?: PageLogin,
): Promise<MetricsListener> {
  const { PrometheusTelemetry } = await import("./prometheus.ts");
  const { serveMetrics } = await import("./server.ts");
  const telemetry = new PrometheusTelemetry();
  const server = serveMetrics(address, telemetry, login);
  return { telemetry, close: () => server.shutdown() };
}
