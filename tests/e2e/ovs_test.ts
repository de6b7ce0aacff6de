/**
 * The shipped Open vSwitch handler for real: Debian's Open vSwitch on the
 * userspace datapath (no kernel module here), docker-glue running
 * handler-scripts/ovs-handler.sh from docker-glue.d/ovs.ini.example.
 */

import {
  assertEquals,
  assertIncludes,
  assertTrue,
} from "../_fixtures/assert.ts";
import {
  docker,
  ensureImage,
  ignoreWithout,
  IMAGE,
  removeContainers,
  ROOT,
  sh,
  startGlue,
  stopsCleanly,
  TEST_LABEL,
  testTempDir,
  waitFor,
} from "./_harness.ts";
import { withCleanup } from "../_fixtures/cleanup.ts";

const OVS_CTL = "/usr/share/openvswitch/scripts/ovs-ctl";

/** Whether Open vSwitch is installed. */
async function ovsInstalled(): Promise<boolean> {
  try {
    await Deno.stat(OVS_CTL);
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts ovsdb-server and ovs-vswitchd unless they answer already; returns
 * whether it started them (then the test stops them).
 */
async function ensureOvs(): Promise<boolean> {
  try {
    await sh("ovs-vsctl", "--timeout=2", "show");
    return false;
  } catch {
    // not running
  }
  await sh(OVS_CTL, "--system-id=random", "--no-monitor", "start").catch(
    // ovs-ctl fails on the ulimit it tries to raise, after starting both.
    () => {},
  );
  await sh("ovs-vsctl", "--timeout=5", "show");
  return true;
}

/**
 * The OVS interfaces attached to a container, as `ovs-vsctl` lists them
 * ("" for none): ovs-docker records the container's id on each port.
 */
function interfacesOf(containerId: string): Promise<string> {
  return sh(
    "ovs-vsctl",
    "--columns=name",
    "find",
    "interface",
    `external_ids:container_id=${containerId}`,
  );
}

/** Runs `sh -c` in a container; its output. */
function inside(name: string, command: string): Promise<string> {
  return docker("exec", name, "sh", "-c", command);
}

Deno.test({
  name:
    "e2e ovs: docker-glue attaches containers started with --network none to a userspace OVS bridge, they talk over it, and are detached when they stop",
  sanitizeOps: false,
  sanitizeResources: false,
  ignore: ignoreWithout(await ovsInstalled()),
  fn: () =>
    withCleanup(async (cleanup) => {
      assertTrue(
        await ovsInstalled(),
        "Open vSwitch is not installed (scripts/setup.sh installs it)",
      );
      await ensureImage();
      if (await ensureOvs()) {
        cleanup.defer("Open vSwitch", () => sh(OVS_CTL, "stop"));
      }
      const names = ["dg-ovs-a", "dg-ovs-b", "dg-ovs-bridged"];
      await removeContainers(...names);
      cleanup.defer("containers", () => removeContainers(...names));
      const bridge = `dgbr${crypto.randomUUID().slice(0, 6)}`;
      cleanup.defer(
        "the bridge",
        () => sh("ovs-vsctl", "--if-exists", "del-br", bridge),
      );
      await sh(
        "ovs-vsctl",
        "add-br",
        bridge,
        "--",
        "set",
        "bridge",
        bridge,
        "datapath_type=netdev",
      );
      const handlers = await testTempDir(cleanup, "docker-glue-ovs-");
      const example = await Deno.readTextFile(
        `${ROOT}docker-glue.d/ovs.ini.example`,
      );
      await Deno.writeTextFile(
        `${handlers}/ovs.ini`,
        example.replace(/^bridge=.*$/m, `bridge=${bridge}`),
      );
      const glue = stopsCleanly(
        cleanup,
        "docker-glue",
        startGlue([
          "-w",
          "--log-level",
          "debug",
          "--handler-paths",
          handlers,
          "--script-paths",
          `${ROOT}handler-scripts`,
        ]),
      );
      const ports = async () =>
        (await sh("ovs-vsctl", "list-ports", bridge)).split("\n").filter(
          Boolean,
        );
      const run = (name: string, ip: string) =>
        docker(
          "run",
          "-d",
          "--name",
          name,
          "--network",
          "none",
          "-l",
          TEST_LABEL,
          "-l",
          `glue_ovs_ip=${ip}`,
          "-e",
          `NAME=${name}`,
          IMAGE,
        );
      await glue.waitForLine(/with 1 handlers/);
      await run("dg-ovs-a", "10.77.0.2/24");
      await run("dg-ovs-b", "10.77.0.3/24");
      // A container on a Docker network is not the handler's.
      const bridged = await docker(
        "run",
        "-d",
        "--name",
        "dg-ovs-bridged",
        "-l",
        TEST_LABEL,
        "-l",
        "glue_ovs_ip=10.77.0.9/24",
        IMAGE,
      );
      await waitFor(
        "both containers on the bridge",
        async () => (await ports()).length === 2 ? true : undefined,
      );
      const answer = await waitFor(
        "b to answer a over the bridge",
        () =>
          inside(
            "dg-ovs-a",
            'printf "GET /whoami HTTP/1.0\\r\\n\\r\\n" | nc -w 3 10.77.0.3 80',
          ).then((out) => out.includes("dg-ovs-b /") ? out : undefined),
        20000,
        500,
      );
      assertIncludes(answer, "200 OK");
      // The script has run for its start, and attached nothing.
      await glue.waitForLine(
        new RegExp(
          `Script ovs-handler\\.sh .* done on start ${bridged.slice(0, 12)}`,
        ),
      );
      assertEquals(
        await interfacesOf(bridged),
        "",
      );
      // ...while each of the others has its port, found the same way.
      for (const name of ["dg-ovs-a", "dg-ovs-b"]) {
        const id = await docker("inspect", "-f", "{{.Id}}", name);
        assertTrue(
          (await interfacesOf(id)) !== "",
          `${name} has no OVS interface`,
        );
      }
      await docker("stop", "-t", "1", "dg-ovs-a");
      await waitFor(
        "a detached",
        async () => (await ports()).length === 1 ? true : undefined,
      );
      await docker("rm", "-f", "dg-ovs-b");
      await waitFor(
        "b detached",
        async () => (await ports()).length === 0 ? true : undefined,
      );
      assertTrue(glue.count(/failed/) === 0, glue.lines.join("\n"));
    }),
});
