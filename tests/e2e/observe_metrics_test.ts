/**
 * /metrics and /healthz of a running balancer.
 */

import {
  assertEquals,
  assertIncludes,
  assertTrue,
} from "../_fixtures/assert.ts";
import {
  docker,
  engineStartedHere,
  ignoreWithout,
  restartEngine,
  runContainer,
  startManaged,
  waitFor,
  waitForBody,
} from "./_harness.ts";
import { METRICS_PORT } from "../../lib/permissions.ts";
import { withCleanup } from "../_fixtures/cleanup.ts";

/** Fetches a path of the metrics listener; status and body. */
async function scrape(path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${METRICS_PORT}${path}`);
  return { status: res.status, body: await res.text() };
}

/** The value of one series in Prometheus text, or undefined when absent. */
function find(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** The value of one series in Prometheus text; throws when it is absent. */
function sample(text: string, series: string): number {
  const value = find(text, series);
  if (value === undefined) {
    throw new Error(`no series ${series} in /metrics:\n${text}`);
  }
  return value;
}

/** The value of a counter series, 0 when it has not been counted yet. */
function counted(text: string, series: string): number {
  return find(text, series) ?? 0;
}

Deno.test({
  name:
    "e2e: /metrics counters move as containers start and stop; /healthz is 503 while Docker is down and 200 after",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: (t) =>
    withCleanup(async (cleanup) => {
      const { net, port } = await startManaged(
        cleanup,
        "docker-glue-test-metrics",
        ["--metrics-listen", `127.0.0.1:${METRICS_PORT}`],
      );
      await waitFor(
        "healthz 200",
        async () =>
          (await scrape("/healthz")).status === 200 ? true : undefined,
      );

      await t.step("counters move with containers", async () => {
        const before = (await scrape("/metrics")).body;
        await runContainer("dg-m-one", {
          network: net.name,
          labels: { glue_http_80_host: "m1.example.com" },
        });
        await runContainer("dg-m-bad", {
          network: net.name,
          labels: { glue_http_80_host: "m2 example.com" },
        });
        await waitForBody(port, "m1.example.com", "/whoami", "dg-m-one /");
        const renders = async () =>
          counted(
            (await scrape("/metrics")).body,
            "docker_glue_renders_total",
          ) -
          counted(before, "docker_glue_renders_total");
        // The file, rendered, follows a runtime change once changes have
        // been quiet for 200 ms (loop.ts): each change's, one after another.
        await waitFor(
          "the start's file",
          async () => await renders() >= 1 ? true : undefined,
        );
        await docker("rm", "-f", "dg-m-one");
        const after = await waitFor("the removal and its file", async () => {
          const text = (await scrape("/metrics")).body;
          return counted(
                  text,
                  'docker_glue_runtime_operations_total{op="remove"}',
                ) > 0 &&
              counted(text, "docker_glue_renders_total") -
                    counted(before, "docker_glue_renders_total") >= 2
            ? text
            : undefined;
        });
        // A counter not yet counted before the containers is 0 there.
        const delta = (series: string) =>
          sample(after, series) - counted(before, series);
        assertTrue(
          delta('docker_glue_events_total{source="docker",type="start"}') >= 2,
        );
        assertTrue(
          delta('docker_glue_events_total{source="docker",type="die"}') >= 1,
        );
        assertTrue(
          delta('docker_glue_runtime_operations_total{op="add"}') >= 1,
        );
        assertTrue(delta("docker_glue_renders_total") >= 2);
        assertEquals(
          sample(after, 'docker_glue_unrouted{reason="bad-label"}'),
          1,
        );
        assertEquals(delta("docker_glue_reloads_total"), 0);
        assertTrue(
          sample(after, "docker_glue_seconds_since_last_apply_success") < 10,
        );
        assertIncludes(
          after,
          "# TYPE docker_glue_reload_duration_seconds histogram",
        );
      });

      await t.step({
        name: "healthz follows the Docker engine",
        // Only an engine the test set-up started may be restarted; CI's is.
        ignore: ignoreWithout(await engineStartedHere()),
        fn: async () => {
          const seen: { status: number; body: string }[] = [];
          let polling = true;
          const poller = (async () => {
            while (polling) {
              seen.push(
                await scrape("/healthz").catch(() => ({ status: 0, body: "" })),
              );
              await new Promise((r) => setTimeout(r, 100));
            }
          })();
          await restartEngine();
          await waitFor(
            "healthz 200 again",
            async () =>
              (await scrape("/healthz")).status === 200 ? true : undefined,
            30000,
          );
          polling = false;
          await poller;
          const down = seen.find((s) => s.status === 503);
          assertTrue(down !== undefined, "healthz never said 503");
          assertIncludes(down.body, "docker:");
          const text = (await scrape("/metrics")).body;
          assertTrue(
            sample(
              text,
              'docker_glue_source_reconnects_total{source="docker"}',
            ) >=
              1,
          );
          assertEquals(
            sample(text, 'docker_glue_source_connected{source="docker"}'),
            1,
          );
        },
      });
    }),
});
