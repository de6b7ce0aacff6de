/**
 * docker-balancer against a rootful Podman API service (Podman's
 * Docker-compatible API), end to end: events, inspect, networks, health.
 */

import { assertEquals, assertTrue } from "../_fixtures/assert.ts";
import {
  freePort,
  httpGet,
  ignoreWithout,
  IMAGE,
  readRoutes,
  ROOT,
  startBalancer,
  startGlue,
  stopsCleanly,
  TEST_LABEL,
  testHaproxyDir,
  testTempDir,
  testTempFile,
  waitFor,
  waitForBody,
  waitForStatus,
} from "./_harness.ts";
import {
  ensurePodmanImage,
  podman,
  PODMAN_SOCKET,
  podmanInstalled,
  removePodmanContainers,
  startPodmanService,
} from "./_podman.ts";
import { withCleanup } from "../_fixtures/cleanup.ts";

/** Starts a Podman container of the test image on `network`. */
function run(
  name: string,
  network: string,
  labels: Record<string, string>,
  extra: string[] = [],
): Promise<string> {
  const args = ["run", "-d", "--name", name, "--network", network];
  for (const [key, value] of Object.entries({ [TEST_LABEL]: "1", ...labels })) {
    args.push("-l", `${key}=${value}`);
  }
  return podman(...args, "-e", `NAME=${name}`, ...extra, IMAGE);
}

Deno.test({
  name:
    "e2e podman: docker-balancer follows a Podman service: start, pause, health, network connect, stop, routes",
  sanitizeOps: false,
  sanitizeResources: false,
  ignore: ignoreWithout(await podmanInstalled()),
  fn: (t) =>
    withCleanup(async (cleanup) => {
      assertTrue(
        await podmanInstalled(),
        "podman is not installed (scripts/setup.sh installs it)",
      );
      await ensurePodmanImage();
      cleanup.add(
        "Podman's API service",
        await startPodmanService(),
        (s) => s.stop(),
      );
      await removePodmanContainers();
      cleanup.defer("Podman containers", () => removePodmanContainers());
      const suffix = crypto.randomUUID().slice(0, 6);
      const [net, other] = [`dg-pod-${suffix}`, `dg-pod-other-${suffix}`];
      cleanup.defer(
        "Podman networks",
        () => podman("network", "rm", "-f", net, other),
      );
      await podman("network", "create", net);
      await podman("network", "create", other);
      const dir = await testHaproxyDir(cleanup);
      const port = freePort();
      const args = [
        ...dir.listenArgs(port),
        "--docker-url",
        `unix://${PODMAN_SOCKET}`,
      ];
      const balancer = stopsCleanly(
        cleanup,
        "docker-balancer",
        startBalancer(["-w", "--haproxy", "managed", ...args]),
      );
      await balancer.waitForLine(/Started HAProxy/);

      await t.step(
        "a labelled container is routed on Podman's network",
        async () => {
          await run("dg-pod-a", net, { glue_http_80_host: "pa.example.com" });
          await waitForBody(port, "pa.example.com", "/whoami", "dg-pod-a /");
        },
      );

      await t.step("pause and unpause", async () => {
        await podman("pause", "dg-pod-a");
        await waitForStatus(port, "pa.example.com", "/whoami", 503);
        await podman("unpause", "dg-pod-a");
        await waitForBody(port, "pa.example.com", "/whoami", "dg-pod-a /");
      });

      await t.step("routed once its health check passes", async () => {
        // Podman schedules health checks with systemd timers, which this
        // machine has not: the check runs when asked.
        await run("dg-pod-h", net, { glue_http_80_host: "ph.example.com" }, [
          "--health-cmd",
          "true",
          "--health-interval",
          "1h",
        ]);
        const report = await readRoutes(args);
        assertEquals(
          report.unrouted.find((r) => r.container === "dg-pod-h")?.reason,
          "starting",
        );
        await podman("healthcheck", "run", "dg-pod-h");
        await waitForBody(port, "ph.example.com", "/whoami", "dg-pod-h /");
        // Podman's health event comes before inspect shows the new status,
        // and carries the old one: several containers, to catch that race.
        const names = ["dg-pod-h1", "dg-pod-h2", "dg-pod-h3", "dg-pod-h4"];
        for (const name of names) {
          await run(name, net, { glue_http_80_host: `${name}.example.com` }, [
            "--health-cmd",
            "true",
            "--health-interval",
            "1h",
          ]);
        }
        for (const name of names) await podman("healthcheck", "run", name);
        for (const name of names) {
          await waitForBody(
            port,
            `${name}.example.com`,
            "/whoami",
            `${name} /`,
            5000,
          );
        }
      });

      await t.step(
        "a network connected later gives the address at once",
        async () => {
          await run("dg-pod-n", net, {
            glue_http_80_host: "pn.example.com",
            glue_network: other,
          });
          // The balancer has seen it and left it out: not on its network yet.
          const unrouted = await waitFor(
            "routes to list dg-pod-n as not routed",
            async () =>
              (await readRoutes(args)).unrouted.find((r) =>
                r.container === "dg-pod-n"
              ),
            10000,
            200,
          );
          console.log(`dg-pod-n before network connect: ${unrouted.reason}`);
          assertEquals(
            (await httpGet(port, "pn.example.com", "/whoami")).status,
            404,
          );
          const start = performance.now();
          await podman("network", "connect", other, "dg-pod-n");
          // Podman names the container as the event's actor (Docker names the
          // network); without that, only the 30 s reconcile would notice.
          await waitForBody(
            port,
            "pn.example.com",
            "/whoami",
            "dg-pod-n /",
            5000,
          );
          console.log(
            `podman network connect to routed: ${
              Math.round(performance.now() - start)
            } ms`,
          );
        },
      );

      await t.step("docker-glue's handlers get Podman's events", () =>
        withCleanup(async (cleanup) => {
          const output = await testTempFile(cleanup, ".jsonl");
          const handlers = await testTempDir(cleanup, "docker-glue-handlers-");
          await Deno.writeTextFile(
            `${handlers}/demo.ini`,
            `[handler]\nclass=${ROOT}examples/plugins/demo_handler.ts:DemoHandler\nevents=start,die\n[params]\noutput=${output}\n`,
          );
          const glue = stopsCleanly(
            cleanup,
            "docker-glue",
            startGlue([
              "-w",
              "--handler-paths",
              handlers,
              "--docker-url",
              `unix://${PODMAN_SOCKET}`,
            ], [`--allow-write=${output}`]),
          );
          await glue.waitForLine(/with 1 handlers/);
          const id = await run("dg-pod-g", net, {});
          await podman("stop", "-t", "1", "dg-pod-g");
          const events = await waitFor(
            "start and die of dg-pod-g",
            async () => {
              const seen = (await Deno.readTextFile(output)).split("\n")
                .filter(Boolean).map((l) =>
                  JSON.parse(l) as {
                    event: string;
                    containerId: string;
                  }
                ).filter((e) =>
                  e.containerId === id
                ).map((e) => e.event);
              return seen.includes("die") ? seen : undefined;
            },
          );
          assertEquals(events, ["start", "die"]);
        }));

      await t.step("a stopped container is unrouted", async () => {
        await podman("stop", "-t", "2", "dg-pod-a");
        await waitForStatus(port, "pa.example.com", "/whoami", 503);
        assertTrue(balancer.count(/Container dg-pod-a: unrouted/) >= 1);
      });
    }),
});
