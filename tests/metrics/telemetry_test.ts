import {
  assertEquals,
  assertIncludes,
  assertThrows,
} from "../_fixtures/assert.ts";
import { Health } from "../../lib/metrics/telemetry.ts";
import { PrometheusTelemetry } from "../../lib/metrics/prometheus.ts";
import { parseListen } from "../../lib/metrics/server.ts";
import { metricsAddress } from "../../lib/cli/daemon.ts";

Deno.test("health: 200 only while every source is connected and the last apply succeeded", () => {
  const health = new Health();
  assertEquals(health.answer(0).healthy, false);
  health.source("docker", null);
  assertEquals(health.answer(0).healthy, true);
  health.engine();
  assertEquals(health.answer(0), {
    healthy: false,
    text: "haproxy: nothing applied yet\ndocker: connected\n",
  });
  health.apply({ ok: true, at: 1000 });
  assertEquals(health.answer(4000), {
    healthy: true,
    text: "docker: connected\nhaproxy: last apply succeeded 3 s ago\n",
  });
  health.source("docker", "cannot reach Docker at unix:///x: refused");
  assertEquals(health.answer(4000).healthy, false);
  assertIncludes(health.answer(4000).text.split("\n")[0]!, "docker: cannot");
  health.source("docker", null);
  health.apply({ ok: false, reason: "HAProxy rejected it" });
  assertEquals(
    health.answer(4000).text.split("\n")[0],
    "haproxy: last apply failed: HAProxy rejected it",
  );
});

Deno.test("metrics: counters in Prometheus text, a reconnect counted on the second connection", async () => {
  let now = 10_000;
  const t = new PrometheusTelemetry(() => now);
  t.connected("docker");
  t.event("docker", "start");
  t.event("docker", "start");
  t.runtimeOps([{ op: "add" }, { op: "map" }, { op: "add" }]);
  t.applied("runtime", 0.004);
  t.disconnected("docker", "gone");
  t.connected("docker");
  t.unrouted(new Map([["paused", 2], ["conflict", 0]]));
  t.certificates([{ host: "a.example.com", notAfter: new Date(86_400_000) }]);
  now = 12_500;
  const text = await t.metrics();
  for (
    const line of [
      'docker_glue_events_total{source="docker",type="start"} 2',
      'docker_glue_runtime_operations_total{op="add"} 2',
      'docker_glue_source_reconnects_total{source="docker"} 1',
      'docker_glue_source_connected{source="docker"} 1',
      'docker_glue_unrouted{reason="paused"} 2',
      'docker_glue_certificate_expiry_timestamp_seconds{host="a.example.com"} 86400',
      "docker_glue_seconds_since_last_apply_success 2.5",
      'docker_glue_apply_duration_seconds_count{method="runtime"} 1',
    ]
  ) assertIncludes(text, `${line}\n`);
});

Deno.test("metrics: before the first successful apply the last-success series are absent, not 0; after it they appear", async () => {
  let now = 50_000;
  const t = new PrometheusTelemetry(() => now);
  t.connected("docker");
  t.applyFailed("haproxy -c rejected it");
  const before = await t.metrics();
  for (
    const series of [
      "docker_glue_seconds_since_last_apply_success",
      "docker_glue_last_apply_success_timestamp_seconds",
    ]
  ) {
    assertEquals(
      before.split("\n").filter((l) => l.startsWith(series)),
      [],
      `${series} before any success`,
    );
  }
  t.applied("reload", 0.2);
  now = 53_000;
  const after = await t.metrics();
  assertIncludes(after, "docker_glue_seconds_since_last_apply_success 3\n");
  assertIncludes(
    after,
    "docker_glue_last_apply_success_timestamp_seconds 50\n",
  );
  // Registered once: a later scrape lists each series once.
  const again = await t.metrics();
  assertEquals(
    again.split("\n").filter((l) =>
      l.startsWith("docker_glue_seconds_since_last_apply_success ")
    ).length,
    1,
  );
});

Deno.test("metrics: --metrics-listen takes HOST:PORT, :PORT or [IPv6]:PORT, and only with -w", () => {
  assertEquals(parseListen("127.0.0.1:9612"), {
    hostname: "127.0.0.1",
    port: 9612,
  });
  assertEquals(parseListen(":9612"), { hostname: "0.0.0.0", port: 9612 });
  assertEquals(parseListen("[::1]:9612"), { hostname: "::1", port: 9612 });
  for (const bad of ["9612", "host:", "a:0", "a:70000", "a b:1"]) {
    assertThrows(() => parseListen(bad), TypeError, "Invalid metrics address");
  }
  assertEquals(metricsAddress(undefined, true), undefined);
  assertThrows(() => metricsAddress(":9612", true), TypeError, "with -w");
});
