/**
 * `--source swarm` on a one-node swarm: a service's labels route its tasks;
 * scaling and label changes go through the runtime API; removing the
 * service removes the route; a service on an overlay network is routed on
 * its tasks' docker_gwbridge addresses.
 */

import { assertEquals, assertTrue } from "../_fixtures/assert.ts";
import {
  docker,
  ensureImage,
  freePort,
  httpGet,
  IMAGE,
  masterReloads,
  readRoutes,
  sh,
  startBalancer,
  stopsCleanly,
  testHaproxyDir,
  waitFor,
  waitForStatus,
} from "./_harness.ts";
import { withCleanup } from "../_fixtures/cleanup.ts";

/** The test's overlay addresses; the test blackholes them on the host. */
const OVERLAY_PREFIX = "10.231.7.";
const OVERLAY_SUBNET = `${OVERLAY_PREFIX}0/24`;

/** Answers seen for `host` over `tries` requests. */
async function answers(port: number, host: string, tries: number) {
  const seen = new Set<string>();
  for (let i = 0; i < tries; i++) {
    const res = await httpGet(port, host, "/whoami");
    if (res.status === 200) seen.add(res.body);
  }
  return seen;
}

/** Waits until `count` different tasks have answered for `host`. */
function waitForTasks(port: number, host: string, count: number) {
  return waitFor(
    `${count} tasks to answer for ${host}`,
    async () =>
      (await answers(port, host, count * 4)).size === count ? true : undefined,
    60000,
    250,
  );
}

/** Creates a service of two test tasks routed for `host`. */
function createService(name: string, host: string, extra: string[] = []) {
  return docker(
    "service",
    "create",
    "--detach",
    "--no-resolve-image",
    "--name",
    name,
    ...extra,
    "--label",
    `glue_http_80_host=${host}`,
    "--env",
    "NAME={{.Task.Name}}",
    "--replicas",
    "2",
    IMAGE,
  );
}

Deno.test({
  name:
    "e2e swarm: a service's tasks are routed by its labels, scale and label changes without a reload, removal unroutes, overlay tasks answer on docker_gwbridge",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withCleanup(async (cleanup) => {
      await ensureImage();
      const state = await docker(
        "info",
        "--format",
        "{{.Swarm.LocalNodeState}}",
      );
      if (state !== "active") {
        await docker("swarm", "init", "--advertise-addr", "127.0.0.1");
        cleanup.defer("the swarm", async () => {
          await docker("swarm", "leave", "--force");
          // Swarm made this bridge for its tasks' outside traffic; leaving keeps it.
          await docker("network", "rm", "docker_gwbridge").catch(() => {});
        });
      }
      const suffix = crypto.randomUUID().slice(0, 6);
      const service = `dg-svc-${suffix}`;
      const overlayService = `dg-svc-ov-${suffix}`;
      const overlay = `dg-ov-${suffix}`;
      const dir = await testHaproxyDir(cleanup);
      const port = freePort();
      const args = [...dir.listenArgs(port), "--source", "swarm"];
      const balancer = stopsCleanly(
        cleanup,
        "docker-balancer",
        startBalancer(["-w", "--haproxy", "managed", ...args]),
      );
      await balancer.waitForLine(/Started HAProxy/);
      cleanup.defer(
        "the service",
        () => docker("service", "rm", service).catch(() => {}),
      );
      await createService(service, "svc.example.com");
      await waitForTasks(port, "svc.example.com", 2);
      const reloads = await masterReloads();

      await docker("service", "scale", "--detach", `${service}=3`);
      await waitForTasks(port, "svc.example.com", 3);

      // A label added to the running service reaches its tasks' servers.
      await docker(
        "service",
        "update",
        "--detach",
        "--label-add",
        "glue_http_80_weight=7",
        service,
      );
      await waitFor(
        "weight 7 on every task",
        async () => {
          const report = await readRoutes(args);
          const servers = report.routes.find((r) =>
            r.host === "svc.example.com"
          )?.servers ?? [];
          return servers.length === 3 &&
              servers.every((s) => s.weight === 7 && s.state === "up")
            ? true
            : undefined;
        },
        30000,
        500,
      );
      assertEquals(await masterReloads(), reloads);

      await docker("service", "rm", service);
      await waitForStatus(port, "svc.example.com", "/whoami", 503, 60000);
      // HAProxy answers 503 a moment before the balancer has logged it.
      await waitFor(
        "three unrouted lines",
        () =>
          Promise.resolve(
            balancer.count(/unrouted svc\.example\.com/) >= 3
              ? true
              : undefined,
          ),
        5000,
      );

      // A service on an overlay network (as `docker stack deploy` makes
      // them): its tasks answer on their docker_gwbridge addresses. The
      // host has no route to the overlay subnet but its default one, so
      // the test drops what the host would send there: nothing leaves.
      await sh("ip", "route", "add", "blackhole", OVERLAY_SUBNET);
      cleanup.defer(
        "the blackhole route",
        () => sh("ip", "route", "del", "blackhole", OVERLAY_SUBNET),
      );
      cleanup.defer("the overlay network", async () => {
        await docker("service", "rm", overlayService).catch(() => {});
        // Docker removes a service's tasks a moment after `service rm`.
        await waitFor(
          "the overlay network to go",
          () =>
            docker("network", "rm", overlay).then(
              () => true,
              (error) =>
                String(error).includes("No such network") ? true : undefined,
            ),
          30000,
          500,
        );
      });
      await docker(
        "network",
        "create",
        "--driver",
        "overlay",
        "--subnet",
        OVERLAY_SUBNET,
        overlay,
      );
      await createService(overlayService, "ov.example.com", [
        "--network",
        overlay,
      ]);
      await waitForTasks(port, "ov.example.com", 2);
      const routed = (await readRoutes(args)).routes.find((r) =>
        r.host === "ov.example.com"
      )?.servers ?? [];
      const gateways = await docker(
        "network",
        "inspect",
        "docker_gwbridge",
        "--format",
        "{{range .Containers}}{{.IPv4Address}} {{end}}",
      );
      assertEquals(routed.length, 2);
      for (const { address } of routed) {
        assertTrue(
          gateways.split(" ").some((a) => a.startsWith(`${address}/`)),
          `${address} is not a docker_gwbridge address (${gateways})`,
        );
      }
      assertTrue(
        !balancer.lines.some((l) => l.includes(OVERLAY_PREFIX)),
        "an overlay address reached the balancer's routes",
      );
    }),
});
