/**
 * What an operator sees, end to end against the real engine and HAProxy:
 * `docker-balancer routes` with every reason a container is not routed,
 * `-1 --dry-run --diff` and its exit codes, and `/metrics` and `/healthz`.
 */

import {
  assertEquals,
  assertIncludes,
  assertTrue,
} from "../_fixtures/assert.ts";
import {
  clearLeftoverContainers,
  docker,
  engineStartedHere,
  ensureImage,
  freePort,
  ignoreWithout,
  IMAGE,
  readRoutes,
  restartEngine,
  runBalancer,
  runContainer,
  startManaged,
  TEST_LABEL,
  testHaproxyDir,
  testNetwork,
  waitFor,
  waitForBody,
} from "./_harness.ts";
import { METRICS_PORT } from "../../lib/permissions.ts";
import { withCleanup } from "../_fixtures/cleanup.ts";

/** Starts a container that its restart policy restarts once, then runs. */
function runRestartedOnce(name: string, network: string, host: string) {
  return docker(
    "run",
    "-d",
    "--name",
    name,
    "--network",
    network,
    "-l",
    TEST_LABEL,
    "-l",
    `glue_http_80_host=${host}`,
    "--restart",
    "on-failure:3",
    IMAGE,
    "sh",
    "-c",
    'test -e /ran || { touch /ran; exit 1; }; mkdir -p /www && echo "$HOSTNAME /" > /www/whoami && exec httpd -f -p 80 -h /www',
  );
}

Deno.test({
  name:
    "e2e: routes shows each route with HAProxy's state, and every container that is not routed with its reason",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withCleanup(async (cleanup) => {
      const { net, port, args, balancer } = await startManaged(
        cleanup,
        "docker-glue-test-routes",
      );
      await balancer.waitForLine(/Started HAProxy/);
      const run = (name: string, labels: Record<string, string>, extra = []) =>
        runContainer(name, { network: net.name, labels, extra });
      await Promise.all([
        run("dg-r-ok", { glue_http_80_host: "ok.example.com" }),
        run("dg-r-badlabel", { glue_http_80_host: "bad host.example.com" }),
        run("dg-r-unexposed", { glue_http_81_host: "unexposed.example.com" }),
        run("dg-r-paused", { glue_http_80_host: "paused.example.com" }),
        runContainer("dg-r-unhealthy", {
          network: net.name,
          labels: { glue_http_80_host: "sick.example.com" },
          extra: ["--health-cmd", "false", "--health-interval", "1s"],
        }),
        runContainer("dg-r-starting", {
          network: net.name,
          labels: { glue_http_80_host: "starting.example.com" },
          // The first check runs after an hour.
          extra: ["--health-cmd", "true", "--health-interval", "1h"],
        }),
        run("dg-r-nonet", {
          glue_http_80_host: "nonet.example.com",
          glue_network: "no-such-network",
        }),
        runRestartedOnce("dg-r-damped", net.name, "damped.example.com"),
      ]);
      await docker("pause", "dg-r-paused");
      // The older container keeps the route; the younger one conflicts.
      await run("dg-r-conflict", {
        glue_http_80_host: "ok.example.com",
        glue_http_80_balance: "leastconn",
      });
      await waitForBody(port, "ok.example.com", "/whoami", "dg-r-ok /");

      const expected: Record<string, string> = {
        "dg-r-badlabel": "bad-label",
        "dg-r-unexposed": "not-exposed",
        "dg-r-paused": "paused",
        "dg-r-unhealthy": "unhealthy",
        "dg-r-starting": "starting",
        "dg-r-nonet": "no-address",
        "dg-r-damped": "damped",
        "dg-r-conflict": "conflict",
      };
      const report = await waitFor(
        "every reason in routes --json",
        async () => {
          const parsed = await readRoutes(args);
          const reasons = Object.fromEntries(
            parsed.unrouted.map((row) => [row.container, row.reason]),
          );
          return Object.entries(expected).every(([c, r]) => reasons[c] === r)
            ? parsed
            : undefined;
        },
        20000,
        500,
      );
      const ok = report.routes.find((r) => r.host === "ok.example.com");
      assertEquals(ok?.servers.map((s) => [s.container, s.state]), [[
        "dg-r-ok",
        "up",
      ]]);
      const conflict = report.unrouted.find((r) =>
        r.container === "dg-r-conflict"
      );
      assertEquals(conflict?.label, "glue_http_80_balance");
      assertIncludes(conflict?.detail ?? "", "dg-r-ok");
      const bad = report.unrouted.find((r) => r.container === "dg-r-badlabel");
      assertIncludes(bad?.detail ?? "", "bad host.example.com");

      // The same in aligned text.
      const text = await runBalancer(["routes", ...args]);
      assertEquals(text.code, 0, text.stderr);
      const lines = text.stdout.split("\n");
      const okLine = lines.find((l) =>
        l.includes("dg-r-ok") && l.includes("up")
      );
      assertTrue(okLine !== undefined, text.stdout);
      assertTrue(okLine.startsWith("http "), okLine);
      for (const [container, reason] of Object.entries(expected)) {
        const line = lines.find((l) => l.startsWith(`${container} `));
        assertTrue(line !== undefined, `${container} missing:\n${text.stdout}`);
        assertIncludes(line, ` ${reason} `);
      }
      // Columns line up: the reason starts at the same place on every row.
      const rows = lines.slice(
        lines.findIndex((l) => l.startsWith("CONTAINER")),
      );
      const at = rows[0]!.indexOf("REASON");
      for (const row of rows.slice(1).filter(Boolean)) {
        assertTrue(/^\S/.test(row.slice(at)), `misaligned: ${row}`);
      }

      // A container that ignores SIGTERM drains while docker stop waits.
      await runContainer("dg-r-slow", {
        network: net.name,
        labels: { glue_http_80_host: "slow.example.com" },
        ignoreSigterm: true,
      });
      await waitForBody(port, "slow.example.com", "/whoami", "dg-r-slow /");
      const stopping = docker("stop", "-t", "10", "dg-r-slow");
      await waitFor(
        "routes to show the server draining",
        async () => {
          const parsed = await readRoutes(args);
          const slow = parsed.routes.find((r) => r.host === "slow.example.com");
          return slow?.servers[0]?.state === "drain" ? true : undefined;
        },
        8000,
        200,
      );
      await stopping;
    }),
});

Deno.test({
  name:
    "e2e: -1 --dry-run --diff validates, prints the diff and the runtime commands, writes nothing, and exits 0, 3 or 4",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withCleanup(async (cleanup) => {
      await ensureImage();
      await clearLeftoverContainers();
      const net = await testNetwork(cleanup, "docker-glue-test-diff");
      const dir = await testHaproxyDir(cleanup);
      const args = [...dir.listenArgs(freePort()), "--haproxy", "external"];
      const diff = () =>
        runBalancer(["-1", "--dry-run", "--diff", ...args, "--reload-cmd", ""]);
      await runContainer("dg-d-one", {
        network: net.name,
        labels: { glue_http_80_host: "one.example.com" },
      });
      const first = await diff();
      assertEquals(first.code, 4, first.stderr);
      assertIncludes(first.stdout, `--- /dev/null\n+++ ${dir.config}`);
      assertIncludes(first.stdout, "# Needs a reload:");
      const entries = () => [...Deno.readDirSync(dir.path)].map((e) => e.name);
      assertEquals(entries(), [], "--diff wrote something");

      const installed = await runBalancer(["-1", ...args, "--reload-cmd", ""]);
      assertEquals(installed.code, 0, installed.stderr);
      const files = (entries()).sort();
      const same = await diff();
      assertEquals([same.code, same.stdout.trim()], [0, "# No change."]);

      // A new plain host: servers and map entries, no reload.
      await runContainer("dg-d-two", {
        network: net.name,
        labels: { glue_http_80_host: "two.example.com" },
      });
      const runtime = await diff();
      assertEquals(runtime.code, 3, runtime.stdout + runtime.stderr);
      assertIncludes(runtime.stdout, `+++ ${dir.config}.hosts.map`);
      assertIncludes(runtime.stdout, "+two.example.com hosts_");
      assertIncludes(runtime.stdout, "# No reload:");
      assertTrue(/#\s+add server hosts_\d+\/dg-d-two:80 /.test(runtime.stdout));
      assertIncludes(runtime.stdout, "add map ");

      // A path prefix is a new backend: a reload.
      await runContainer("dg-d-api", {
        network: net.name,
        labels: {
          glue_http_80_host: "one.example.com",
          glue_http_80_prefix: "api",
        },
      });
      const structural = await diff();
      assertEquals(structural.code, 4, structural.stderr);
      assertIncludes(structural.stdout, "+backend http_one.example.com_api");
      assertEquals((entries()).sort(), files, "--diff left files behind");

      // A rendering HAProxy rejects is an error, with HAProxy's words.
      await Deno.writeTextFile(
        `${dir.path}/broken.cfg.njk`,
        `{% extends "haproxy.cfg.njk" %}{% block defaults %}\n    no_such_keyword on{% endblock %}`,
      );
      const rejected = await runBalancer([
        "-1",
        "--dry-run",
        "--diff",
        ...args,
        "--reload-cmd",
        "",
        "--template-dir",
        `${dir.path}:`,
        "--template-file",
        "broken.cfg.njk",
      ]);
      assertEquals(rejected.code, 1, rejected.stdout);
      assertIncludes(rejected.stderr, "no_such_keyword");
      await Deno.remove(`${dir.path}/broken.cfg.njk`);
      assertEquals((entries()).sort(), files);

      // Without -1 it is a usage error.
      const usage = await runBalancer(["-w", "--dry-run", "--diff", ...args]);
      assertEquals(usage.code, 2, usage.stderr);
      assertIncludes(usage.stderr, "--diff");
    }),
});

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
      const { net, port, balancer } = await startManaged(
        cleanup,
        "docker-glue-test-metrics",
        ["--metrics-listen", `127.0.0.1:${METRICS_PORT}`],
      );
      await balancer.waitForLine(/Started HAProxy/);
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
          labels: { glue_http_81_host: "m2.example.com" },
        });
        await waitForBody(port, "m1.example.com", "/whoami", "dg-m-one /");
        await docker("rm", "-f", "dg-m-one");
        const after = await waitFor("the removal to be applied", async () => {
          const text = (await scrape("/metrics")).body;
          return counted(
              text,
              'docker_glue_runtime_operations_total{op="remove"}',
            ) >
              0
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
          sample(after, 'docker_glue_unrouted{reason="not-exposed"}'),
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
