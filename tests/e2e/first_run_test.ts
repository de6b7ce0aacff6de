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
      // A session of its own, as a terminal gives the command it runs: the
      // signal below goes to that whole process group, as Ctrl-C does.
      const child = new Deno.Command("bash", {
        args: ["scripts/balancer.sh", "-w", ...dir.listenArgs(port)],
        cwd: ROOT,
        env: { NO_COLOR: "1" },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        detached: true,
      }).spawn();
      const output = Promise.all([
        new Response(child.stdout).text(),
        new Response(child.stderr).text(),
      ]).then(([out, err]) => out + err);
      let stopped = false;
      cleanup.add("the main command", child, async (c) => {
        if (!stopped) c.kill("SIGKILL");
        await c.status;
      });
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

      await sh("kill", "-INT", "--", `-${child.pid}`);
      const status = await child.status;
      stopped = true;
      const lines = (await output).split("\n");
      assertEquals(status.code, 0, lines.slice(-10).join("\n"));
      assertEquals(lines.filter((l) => /Stopping on signal/.test(l)).length, 1);
      assertEquals(lines.filter((l) => / ERROR /.test(l)), []);
      assertTrue(
        lines.some((l) =>
          /Stopped HAProxy \(pid \d+\): requests in flight finished/.test(l)
        ),
        lines.slice(-10).join("\n"),
      );
      // The engine is still there for the next command.
      await docker("info", "--format", "{{.ServerVersion}}");
      await sh("bash", `${ROOT}/tests/setup/dockerd.sh`, "start");
    }),
});
