/**
 * The `--metrics-listen` HTTP listener: a status page for people on `/`,
 * `/metrics` in Prometheus text format, `/healthz` for load balancers and
 * supervisors.
 *
 * @module
 */

import type { PrometheusTelemetry } from "./prometheus.ts";
import type { HealthAnswer } from "./telemetry.ts";
import { escapeHtml } from "../util/html.ts";
import { type PageLogin, pageRefusal } from "./page_access.ts";

/** A parsed `--metrics-listen` address. */
export interface ListenAddress {
  /** Host to bind; `0.0.0.0` for every IPv4 address. */
  readonly hostname: string;
  /** TCP port. */
  readonly port: number;
}

/**
 * Parses `HOST:PORT`, `:PORT` (every IPv4 address) or `[IPv6]:PORT`.
 *
 * @throws {TypeError} for anything else.
 */
export function parseListen(value: string): ListenAddress {
  const match = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]*):([0-9]{1,5})$/.exec(
    value.trim(),
  );
  const port = Number(match?.[2]);
  if (match === null || port < 1 || port > 65535) {
    throw new TypeError(
      `Invalid metrics address "${value}": expected HOST:PORT such as 127.0.0.1:9612`,
    );
  }
  const host = match[1] ?? "";
  return {
    hostname: host === ""
      ? "0.0.0.0"
      : host.startsWith("[")
      ? host.slice(1, -1)
      : host,
    port,
  };
}

/** The page before the engine has given its own: health only, refreshing. */
function notYet(health: HealthAnswer): string {
  const text = escapeHtml(health.text);
  return `<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="2"><title>docker-glue</title><p>No routes to show: the HAProxy engine has not started yet, or none runs here.</p><pre>${text}</pre>\n`;
}

/**
 * Serves the status page on `/`, `/metrics` and `/healthz` until
 * `shutdown()`; the page to loopback clients only, or with `login` to
 * whoever gives it (page_access.ts).
 */
export function serveMetrics(
  address: ListenAddress,
  telemetry: PrometheusTelemetry,
  login?: PageLogin,
): Deno.HttpServer {
  return Deno.serve({
    hostname: address.hostname,
    port: address.port,
    onListen: () => {},
  }, async (request, info) => {
    const path = new URL(request.url).pathname;
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("GET only\n", { status: 405 });
    }
    if (path === "/metrics") {
      return new Response(await telemetry.metrics(), {
        headers: { "content-type": telemetry.contentType },
      });
    }
    if (path === "/healthz") {
      const answer = telemetry.health.answer(Date.now());
      return new Response(answer.text, {
        status: answer.healthy ? 200 : 503,
        headers: { "content-type": "text/plain; charset=utf-8" },
      });
    }
    if (path === "/") {
      const client = info.remoteAddr.transport === "tcp"
        ? info.remoteAddr.hostname
        : "";
      const refusal = pageRefusal(request, client, login);
      if (refusal !== null) return refusal;
      const health = telemetry.health.answer(Date.now());
      const page = telemetry.page;
      return new Response(
        page === null ? notYet(health) : await page(health),
        { headers: { "content-type": "text/html; charset=utf-8" } },
      );
    }
    return new Response("Not found: try /, /metrics or /healthz\n", {
      status: 404,
    });
  });
}
