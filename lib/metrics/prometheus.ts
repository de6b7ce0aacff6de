/**
 * Telemetry kept as Prometheus metrics (npm `prom-client`, which runs under
 * Deno unchanged) plus the health `/healthz` reports. Loaded only with
 * `--metrics-listen`.
 *
 * @module
 */

import client from "prom-client";
import { Health, type HealthAnswer, type Telemetry } from "./telemetry.ts";

const PREFIX = "docker_glue_";

/** Metrics and health of one process. */
export class PrometheusTelemetry implements Telemetry {
  /** The registry `/metrics` serves. */
  readonly registry: client.Registry = new client.Registry();
  /** What `/healthz` answers. */
  readonly health: Health = new Health();
  readonly #now: () => number;
  readonly #events;
  readonly #connected;
  readonly #reconnects;
  readonly #etcdErrors;
  readonly #renders;
  readonly #runtimeOps;
  readonly #reloads;
  readonly #reloadSeconds;
  readonly #validationFailures;
  readonly #applies;
  readonly #applySeconds;
  readonly #applyFailures;
  readonly #unrouted;
  readonly #certExpiry;
  /** The gauges of the last success, until the first one registers them. */
  readonly #sinceSuccess: client.Gauge[];
  /** Sources connected before: their next connection is a reconnect. */
  readonly #seen = new Set<string>();

  /** Creates the metrics; `now` is the clock (ms since the epoch). */
  constructor(now: () => number = Date.now) {
    this.#now = now;
    const registers = [this.registry];
    this.#events = new client.Counter({
      name: `${PREFIX}events_total`,
      help: "Events received, by source and type (Docker action)",
      labelNames: ["source", "type"] as const,
      registers,
    });
    this.#connected = new client.Gauge({
      name: `${PREFIX}source_connected`,
      help: "1 while the event source is connected",
      labelNames: ["source"] as const,
      registers,
    });
    this.#reconnects = new client.Counter({
      name: `${PREFIX}source_reconnects_total`,
      help: "Times an event source was connected again after a loss",
      labelNames: ["source"] as const,
      registers,
    });
    this.#etcdErrors = new client.Counter({
      name: `${PREFIX}etcd_errors_total`,
      help: "etcd requests that failed",
      registers,
    });
    this.#renders = new client.Counter({
      name: `${PREFIX}renders_total`,
      help: "HAProxy configurations rendered",
      registers,
    });
    this.#runtimeOps = new client.Counter({
      name: `${PREFIX}runtime_operations_total`,
      help: "Changes applied through HAProxy's runtime API, by operation",
      labelNames: ["op"] as const,
      registers,
    });
    this.#reloads = new client.Counter({
      name: `${PREFIX}reloads_total`,
      help: "HAProxy reloads",
      registers,
    });
    this.#reloadSeconds = new client.Histogram({
      name: `${PREFIX}reload_duration_seconds`,
      help: "How long a reload took",
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.#validationFailures = new client.Counter({
      name: `${PREFIX}validation_failures_total`,
      help: "Renderings HAProxy rejected (haproxy -c)",
      registers,
    });
    this.#applies = new client.Counter({
      name: `${PREFIX}applies_total`,
      help: "Updates applied, by how they reached HAProxy",
      labelNames: ["method"] as const,
      registers,
    });
    this.#applySeconds = new client.Histogram({
      name: `${PREFIX}apply_duration_seconds`,
      help: "How long an update took, render to HAProxy running it",
      labelNames: ["method"] as const,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.#applyFailures = new client.Counter({
      name: `${PREFIX}apply_failures_total`,
      help: "Updates that failed (HAProxy runs what it ran before)",
      registers,
    });
    this.#unrouted = new client.Gauge({
      name: `${PREFIX}unrouted`,
      help:
        "Containers (or their ports) that ask to be routed and are not, by reason",
      labelNames: ["reason"] as const,
      registers,
    });
    this.#certExpiry = new client.Gauge({
      name: `${PREFIX}certificate_expiry_timestamp_seconds`,
      help: "When the certificate served for a host expires (Unix time)",
      labelNames: ["host"] as const,
      registers,
    });
    const health = this.health;
    const clock = this.#now;
    // prom-client shows a gauge without labels as 0 until it is set, even
    // after reset(): these two join the registry at the first success
    // instead, so before it they are absent, not "applied just now".
    this.#sinceSuccess = [
      new client.Gauge({
        name: `${PREFIX}last_apply_success_timestamp_seconds`,
        help:
          "When the last update succeeded (Unix time); absent before the first",
        registers: [],
        collect() {
          if (health.lastSuccess !== undefined) {
            this.set(health.lastSuccess / 1000);
          }
        },
      }),
      new client.Gauge({
        name: `${PREFIX}seconds_since_last_apply_success`,
        help:
          "Seconds since the last update succeeded; absent before the first",
        registers: [],
        collect() {
          if (health.lastSuccess !== undefined) {
            this.set((clock() - health.lastSuccess) / 1000);
          }
        },
      }),
    ];
    new client.Gauge({
      name: "process_resident_memory_bytes",
      help: "Resident memory size in bytes",
      registers,
      collect() {
        this.set(Deno.memoryUsage().rss);
      },
    });
  }

  /** Metrics in Prometheus text format. */
  metrics(): Promise<string> {
    if (this.health.lastSuccess !== undefined) {
      for (const gauge of this.#sinceSuccess.splice(0)) {
        this.registry.registerMetric(gauge);
      }
    }
    return this.registry.metrics();
  }

  /** The Content-Type of {@link metrics}. */
  get contentType(): string {
    return this.registry.contentType;
  }

  event(source: string, type: string): void {
    this.#events.inc({ source, type });
  }

  connected(source: string): void {
    // 0 on the first connection, so the series exists from the start.
    this.#reconnects.inc({ source }, this.#seen.has(source) ? 1 : 0);
    this.#seen.add(source);
    this.#connected.set({ source }, 1);
    this.health.source(source, null);
  }

  disconnected(source: string, reason: string): void {
    this.#connected.set({ source }, 0);
    this.health.source(source, reason);
  }

  etcdError(): void {
    this.#etcdErrors.inc();
  }

  rendered(): void {
    this.health.engine();
    this.#renders.inc();
  }

  runtimeOps(ops: readonly { readonly op: string }[]): void {
    for (const { op } of ops) this.#runtimeOps.inc({ op });
  }

  reloaded(seconds: number): void {
    this.#reloads.inc();
    this.#reloadSeconds.observe(seconds);
  }

  validationFailed(): void {
    this.#validationFailures.inc();
  }

  applied(method: "runtime" | "reload" | "files", seconds: number): void {
    this.health.engine();
    this.#applies.inc({ method });
    this.#applySeconds.observe({ method }, seconds);
    this.health.apply({ ok: true, at: this.#now() });
  }

  applyFailed(reason: string): void {
    this.health.engine();
    this.#applyFailures.inc();
    this.health.apply({ ok: false, reason });
  }

  unrouted(counts: ReadonlyMap<string, number>): void {
    for (const [reason, count] of counts) this.#unrouted.set({ reason }, count);
  }

  /** The status page's renderer, once the engine has given it. */
  page: ((health: HealthAnswer) => Promise<string>) | null = null;

  statusPage(render: (health: HealthAnswer) => Promise<string>): void {
    this.page = render;
  }

  certificates(certs: readonly { host: string; notAfter: Date }[]): void {
    this.#certExpiry.reset();
    for (const { host, notAfter } of certs) {
      this.#certExpiry.set({ host }, notAfter.getTime() / 1000);
    }
  }
}
