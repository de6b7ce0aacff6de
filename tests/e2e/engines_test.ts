/**
 * One balancer following two Docker engines without etcd: this host's, and
 * a second one on loopback TCP with TLS, as another host's would be. Both
 * engines' containers are routed (one host name served from both), the
 * second engine's on their published ports; stopping that engine leaves
 * every route as it is for the grace period, then takes its containers
 * out and leaves the first engine's alone; starting it again routes them
 * again.
 */

import { assertEquals, assertTrue } from "../_fixtures/assert.ts";
import { withCleanup } from "../_fixtures/cleanup.ts";
import { AdminSocket } from "../../lib/haproxy/io/runtime.ts";
import {
  ADMIN_SOCKET,
  httpGet,
  readRoutes,
  runContainer,
  startManaged,
  waitFor,
  waitForBody,
} from "./_harness.ts";
import { SecondEngine } from "./_second_engine.ts";

const GRACE_S = 3;

Deno.test({
  name:
    "e2e engines: containers of a second engine over TLS are routed beside this host's; while it is down they stay for the grace, then go, and come back with it",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: (t) =>
    withCleanup(async (cleanup) => {
      const certDir = await Deno.makeTempDir({
        dir: "/etc/haproxy",
        prefix: "docker-glue-test-engine-",
      });
      cleanup.defer("certificates", () =>
        Deno.remove(certDir, { recursive: true }));
      const second = cleanup.add(
        "second engine",
        await SecondEngine.create(certDir),
        (engine) =>
          engine.remove(),
      );
      const setup = await startManaged(cleanup, "docker-glue-test-engines", [
        "--docker-url",
        "unix:///var/run/docker.sock",
        "--docker-url",
        second.url("second"),
        "--docker-grace",
        `${GRACE_S}s`,
      ]);
      const { balancer, port } = setup;
      await balancer.waitForLine(/and second at tcp:\/\/127\.0\.0\.1:2376/);
      await balancer.waitForLine(/Engine second .* connected/);
      const admin = new AdminSocket(ADMIN_SOCKET);
      const servers = async () =>
        (await admin.servers()).map((s) => s.name).sort();

      await runContainer("dg-eng-a", {
        network: setup.net.name,
        labels: { glue_http_80_host: "both.example.com" },
      });
      await second.run("dg-eng-b", { glue_http_80_host: "both.example.com" });

      await t.step("one host name is served from both engines", async () => {
        await waitFor("both containers to answer", async () => {
          const seen = new Set<string>();
          for (let i = 0; i < 6; i++) {
            seen.add((await httpGet(port, "both.example.com", "/whoami")).body);
          }
          return seen.has("dg-eng-a /") && seen.has("dg-eng-b /")
            ? true
            : undefined;
        }, 15000);
        const routes = await readRoutes(setup.args.concat([
          "--docker-url",
          "unix:///var/run/docker.sock",
          "--docker-url",
          second.url("second"),
        ]));
        const names = routes.routes.flatMap((r) =>
          r.servers.map((s) => s.container)
        ).sort();
        assertEquals(names, ["dg-eng-a", "dg-eng-b@second"]);
      });

      await t.step(
        "a container run on the second engine is routed on its published port",
        async () => {
          const started = performance.now();
          await second.run("dg-eng-c", { glue_http_80_host: "c.example.com" });
          const ran = performance.now();
          const waited = await waitForBody(
            port,
            "c.example.com",
            "/whoami",
            "dg-eng-c /",
            10000,
          );
          console.log(
            `second engine: docker run took ${
              Math.round(ran - started)
            } ms; routed ${Math.round(waited)} ms after it returned`,
          );
        },
      );

      await t.step(
        "the second engine stopped: its routes stay for the grace, then go; this host's stay",
        async () => {
          const before = await servers();
          assertEquals(before.length, 3);
          await second.stop();
          await balancer.waitForLine(
            /Engine second .* lost: its 2 containers stay routed for 3 s/,
          );
          // Within the grace nothing changed in HAProxy.
          assertEquals(await servers(), before);
          const lost = performance.now();
          await balancer.waitForLine(
            /Engine second .* still lost after 3 s: its 2 containers are no longer routed/,
            10000,
          );
          assertTrue(performance.now() - lost >= (GRACE_S - 1) * 1000);
          await waitFor("the second engine's servers to go", async () =>
            (await servers()).length === 1 ? true : undefined, 5000);
          for (let i = 0; i < 4; i++) {
            assertEquals(
              (await httpGet(port, "both.example.com", "/whoami")).body,
              "dg-eng-a /",
            );
          }
          assertEquals(
            (await httpGet(port, "c.example.com", "/whoami")).status,
            503,
          );
        },
      );

      await t.step(
        "the second engine back: its running containers are routed again",
        async () => {
          const back = performance.now();
          await second.start();
          await waitForBody(
            port,
            "c.example.com",
            "/whoami",
            "dg-eng-c /",
            15000,
          );
          console.log(
            `second engine back: routed again ${
              Math.round(performance.now() - back)
            } ms after it was started`,
          );
          assertEquals((await servers()).length, 3);
        },
      );
    }),
});
