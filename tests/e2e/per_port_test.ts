/**
 * `--per-port-frontends`, end to end: as the original did, HAProxy listens on
 * every port the HTTP labels name, each with its own routes.
 */

import {
  assertEquals,
  assertIncludes,
  assertTrue,
} from "../_fixtures/assert.ts";
import {
  freePort,
  httpGet,
  masterReloads,
  readRoutes,
  runBalancer,
  runContainer,
  startManaged,
  waitForBody,
} from "./_harness.ts";
import { withCleanup } from "../_fixtures/cleanup.ts";

Deno.test({
  name:
    "e2e: per-port frontends listen on each label port; a host is routed on its label's port only; new servers and hosts on a port need no reload",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withCleanup(async (cleanup) => {
      const { net, balancer, args } = await startManaged(
        cleanup,
        "docker-glue-test-perport",
        ["--per-port-frontends"],
      );
      const [portA, portB] = [freePort(), freePort()];
      await runContainer("dg-pp-a", {
        network: net.name,
        port: portA,
        labels: { [`glue_http_${portA}_host`]: "a.example.com" },
      });
      await runContainer("dg-pp-b", {
        network: net.name,
        port: portB,
        labels: { [`glue_http_${portB}_host`]: "b.example.com" },
      });
      await waitForBody(portA, "a.example.com", "/whoami", "dg-pp-a /");
      await waitForBody(portB, "b.example.com", "/whoami", "dg-pp-b /");
      // Each frontend has its own routes.
      assertEquals(
        (await httpGet(portA, "b.example.com", "/whoami")).status,
        404,
      );
      assertEquals(
        (await httpGet(portB, "a.example.com", "/whoami")).status,
        404,
      );
      // A second container on a port joins through the runtime API. (HAProxy
      // may serve port B before the reload that opened it is logged.)
      await balancer.waitForLine(/Container dg-pp-b: routed/);
      const reloads = await masterReloads();
      await runContainer("dg-pp-a2", {
        network: net.name,
        port: portA,
        labels: { [`glue_http_${portA}_host`]: "a.example.com" },
      });
      await waitForBody(portA, "a.example.com", "/whoami", "dg-pp-a2 /");
      // So does a new host on a port that has a frontend: the host map's
      // keys are host:port, and only port A's frontend finds it.
      await runContainer("dg-pp-c", {
        network: net.name,
        port: portA,
        labels: { [`glue_http_${portA}_host`]: "c.example.com" },
      });
      await waitForBody(portA, "c.example.com", "/whoami", "dg-pp-c /");
      // A reload is logged a moment after HAProxy serves the new file; the
      // routed line follows the reload's.
      await balancer.waitForLine(/Container dg-pp-c: routed/);
      assertEquals(
        (await httpGet(portB, "c.example.com", "/whoami")).status,
        404,
      );
      assertEquals(await masterReloads(), reloads);
      const routes = await runBalancer([
        "routes",
        "--per-port-frontends",
        ...args,
      ]);
      assertIncludes(routes.stdout, `http on :${portB}  b.example.com`);
      // The report finds the pool backend through the host:port key.
      const c = (await readRoutes(["--per-port-frontends", ...args])).routes
        .find((r) => r.host === "c.example.com");
      assertEquals(c?.servers.map((s) => s.state), ["up"]);
      assertTrue(c?.backend.startsWith("hosts_"), c?.backend);
    }),
});
