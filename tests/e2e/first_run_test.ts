/**
 * The README's main command as a new user runs it in a terminal: it routes
 * a container, and Ctrl-C (SIGINT to the terminal's whole process group)
 * stops it with one "Stopping" line and no error, stops HAProxy softly, and
 * leaves the Docker engine running for the next command.
 */

import { assertEquals, assertTrue } from "../_fixtures/assert.ts";
import {
  clearLeftoverContainers,
  docker,
  ensureImage,
  freePort,
  Process,
  ROOT,
  runContainer,
  sh,
  testHaproxyDir,
  testNetwork,
  waitForBody,
} from "./_harness.ts";
import { withCleanup } from "../_fixtures/cleanup.ts";

Deno.test({
  name:
    "first run: scripts/balancer.sh routes a container; Ctrl-C stops it with one Stopping line, no ERROR, and Docker still running",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withCleanup(async (cleanup) => {
      await ensureImage();
      await clearLeftoverContainers();
      const net = await testNetwork(cleanup, "docker-glue-test-first-run");
      const dir = await testHaproxyDir(cleanup);
      const port = freePort();
      const main = cleanup.add(
        "the main command",
        new Process(
          "bash",
          ["scripts/balancer.sh", "-w", ...dir.listenArgs(port)],
          { NO_COLOR: "1" },
          true,
        ),
        // On a failure before the Ctrl-C below: every process of it goes.
        async (p) => {
          if (!p.exited) await p.interrupt("SIGTERM");
          await p.finished();
        },
      );
      await runContainer("dg-first-run", {
        network: net.name,
        labels: { glue_http_80_host: "first.example.com" },
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
      await sh("bash", `${ROOT}/tests/setup/dockerd.sh`, "start");
    }),
});
