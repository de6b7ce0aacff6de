/**
 * The README's two commands as a new user runs them in a terminal, from a
 * fresh clone: the main command routes a container, and Ctrl-C (SIGINT to
 * the terminal's whole process group) stops it with one "Stopping" line and
 * no error, stops HAProxy softly, and leaves the Docker engine running; the
 * test command then gets through its set-up and static checks to the tests,
 * and Ctrl-C on it leaves the engine running too.
 */

import { assertEquals, assertTrue } from "../_fixtures/assert.ts";
import {
  clearLeftoverContainers,
  docker,
  ensurePlainImage,
  freePort,
  PLAIN_IMAGE,
  Process,
  ROOT,
  runContainer,
  sh,
  testHaproxyDir,
  testNetwork,
  testTempDir,
  waitForBody,
} from "./_harness.ts";
import { withCleanup } from "../_fixtures/cleanup.ts";

Deno.test({
  name:
    "first run from a fresh clone: scripts/balancer.sh routes a container; Ctrl-C stops it with one Stopping line, no ERROR, Docker still running; then scripts/test.sh sets up and starts the tests, and Ctrl-C leaves Docker running",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withCleanup(async (cleanup) => {
      await ensurePlainImage();
      await clearLeftoverContainers();
      const net = await testNetwork(cleanup, "docker-glue-test-first-run");
      const dir = await testHaproxyDir(cleanup);
      const port = freePort();
      // A fresh clone of what is committed. Deno and the npm packages come
      // from this checkout: a test may not reach the npm registry.
      const clone = await testTempDir(cleanup, "docker-glue-clone-");
      await sh("git", "clone", "--quiet", ROOT, clone);
      await Deno.symlink(`${ROOT}/node_modules`, `${clone}/node_modules`);
      const main = cleanup.add(
        "the main command",
        new Process(
          "bash",
          [`${clone}/scripts/balancer.sh`, "-w", ...dir.listenArgs(port)],
          { NO_COLOR: "1" },
          true,
        ),
        // On a failure before the Ctrl-C below: every process of it goes.
        async (p) => {
          if (!p.exited) await p.interrupt("SIGTERM");
          await p.finished();
        },
      );
      // As the README's example: an image that exposes nothing, the port
      // named by the label only.
      const www = await testTempDir(cleanup, "docker-glue-www-");
      await Deno.writeTextFile(`${www}/whoami`, "dg-first-run /\n");
      await Deno.chmod(www, 0o755);
      await runContainer("dg-first-run", {
        network: net.name,
        labels: { glue_http_80_host: "first.example.com" },
        image: PLAIN_IMAGE,
        extra: ["-v", `${www}:/www:ro`],
        command: ["httpd", "-f", "-p", "80", "-h", "/www"],
      });
      await waitForBody(
        port,
        "first.example.com",
        "/whoami",
        "dg-first-run /",
        60000,
      );

      await main.interrupt();
      const status = await main.finished();
      const lines = [...main.stdout, ...main.lines];
      assertEquals(status.code, 0, lines.slice(-10).join("\n"));
      assertEquals(main.count(/Stopping on signal/), 1);
      const errors = lines.filter((l) => / ERROR /.test(l));
      // On a failure, the whole log is the evidence.
      if (errors.length > 0) console.log(lines.join("\n"));
      assertEquals(errors, []);
      assertTrue(
        main.count(
          /Stopped HAProxy \(pid \d+\): requests in flight finished/,
        ) === 1,
        lines.slice(-10).join("\n"),
      );
      // The engine is still there for the next command.
      await docker("info", "--format", "{{.ServerVersion}}");

      // The second command, at once: its set-up finds the engine running
      // (the issue: it found one still stopping, and failed), its static
      // checks pass and the unit tests start; Ctrl-C there too leaves the
      // engine running. (The whole suite inside the suite would double it.)
      const tests = new Process(
        "bash",
        [`${clone}/scripts/test.sh`],
        { NO_COLOR: "1" },
        true,
      );
      cleanup.defer("the test command", async () => {
        if (!tests.exited) await tests.interrupt("SIGTERM");
        await tests.finished();
      });
      await tests.waitForLine(/Task test:unit/, 120_000);
      await tests.interrupt();
      const stopped = await tests.finished();
      const said = [...tests.stdout, ...tests.lines];
      // It stops there: no end-to-end tests after a Ctrl-C.
      assertEquals(stopped.code, 130, said.slice(-10).join("\n"));
      assertEquals(said.filter((l) => /Task test:e2e/.test(l)), []);
      assertEquals(
        said.filter((l) => /pid file|did not answer|starting dockerd/.test(l)),
        [],
      );
      await docker("info", "--format", "{{.ServerVersion}}");
    }),
});
