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
  haproxyDir,
  httpGet,
  IMAGE,
  readRoutes,
  sh,
  startBalancer,
  waitFor,
  waitForStatus,
} from "./_harness.ts";

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
  async fn() {
    await ensureImage();
    const state = await docker("info", "--format", "{{.Swarm.LocalNodeState}}");
    const initialized = state !== "active";
    if (initialized) {
      await docker("swarm", "init", "--advertise-addr", "127.0.0.1");
    }
    const suffix = crypto.randomUUID().slice(0, 6);
    const service = `dg-svc-${suffix}`;
    const overlayService = `dg-svc-ov-${suffix}`;
    const overlay = `dg-ov-${suffix}`;
    let blackholed = false;
    const dir = await haproxyDir();
    const port = freePort();
    const args = [...dir.listenArgs(port), "--source", "swarm"];
    const balancer = startBalancer(["-w", "--haproxy", "managed", ...args]);
    try {
      await balancer.waitForLine(/Started HAProxy/);
      await createService(service, "svc.example.com");
      await waitForTasks(port, "svc.example.com", 2);
      const reloads = balancer.count(/Reloaded HAProxy/);

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
      assertEquals(balancer.count(/Reloaded HAProxy/), reloads);

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
      blackholed = true;
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
    } finally {
      const status = await balancer.stop();
      await docker("service", "rm", service).catch(() => {});
      await docker("service", "rm", overlayService).catch(() => {});
      // Docker removes a service's tasks a moment after `service rm`.
      await waitFor(
        "the overlay network to go",
        () =>
          docker("network", "rm", overlay).then(() => true, () => undefined),
        30000,
        500,
      ).catch(() => {});
      if (blackholed) {
        await sh("ip", "route", "del", "blackhole", OVERLAY_SUBNET);
      }
      if (initialized) {
        await docker("swarm", "leave", "--force");
        // Swarm made this bridge for its tasks' outside traffic; leaving keeps it.
        await docker("network", "rm", "docker_gwbridge").catch(() => {});
      }
      await dir.remove();
      assertEquals(status.code, 0, balancer.lines.slice(-20).join("\n"));
    }
  },
});
