/**
 * What an operator sees, end to end against the real engine and HAProxy:
 * `docker-balancer routes` with every reason a container of this host's
 * engine can have not to be routed (`not-exposed` and `not-published` are
 * other hosts' containers': tests/routing),
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
  ensureImage,
  freePort,
  IMAGE,
  readRoutes,
  runBalancer,
  runContainer,
  startManaged,
  TEST_LABEL,
  testHaproxyDir,
  testNetwork,
  waitFor,
  waitForBody,
} from "./_harness.ts";
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
      const { net, port, args } = await startManaged(
        cleanup,
        "docker-glue-test-routes",
      );
      const run = (name: string, labels: Record<string, string>, extra = []) =>
        runContainer(name, { network: net.name, labels, extra });
      await Promise.all([
        run("dg-r-ok", { glue_http_80_host: "ok.example.com" }),
        run("dg-r-badlabel", { glue_http_80_host: "bad host.example.com" }),
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
