/**
 * A rootful Podman API service for the tests, on the socket the binaries may
 * use, and the test image loaded into Podman's store.
 *
 * @module
 */

import { docker, ensureImage, IMAGE, sh, TEST_LABEL } from "./_harness.ts";

/** Podman's Docker-compatible socket (lib/permissions.ts allows it). */
export const PODMAN_SOCKET = "/run/podman/podman.sock";

/** Runs podman; resolves to its trimmed standard output. */
export function podman(...args: string[]): Promise<string> {
  return sh("podman", ...args);
}

/** Whether podman is installed. */
export async function podmanInstalled(): Promise<boolean> {
  try {
    await podman("--version");
    return true;
  } catch {
    return false;
  }
}

/** A running `podman system service`, stopped by `stop()`. */
export interface PodmanService {
  stop(): Promise<void>;
}

/** Starts the API service and waits until it answers. */
export async function startPodmanService(): Promise<PodmanService> {
  await Deno.mkdir("/run/podman", { recursive: true });
  const child = new Deno.Command("podman", {
    args: ["system", "service", "--time=0", `unix://${PODMAN_SOCKET}`],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const deadline = Date.now() + 10_000;
  while (true) {
    try {
      const conn = await Deno.connect({
        transport: "unix",
        path: PODMAN_SOCKET,
      });
      conn.close();
      break;
    } catch (error) {
      if (Date.now() > deadline) {
        child.kill("SIGKILL");
        throw new Error(`Podman's API did not start: ${error}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    async stop() {
      child.kill("SIGTERM");
      await child.status;
    },
  };
}

/** Loads the test image (built for Docker from busybox-static) into Podman. */
export async function ensurePodmanImage(): Promise<void> {
  try {
    await podman("image", "exists", IMAGE);
    return;
  } catch {
    // not loaded yet
  }
  await ensureImage();
  const tar = await Deno.makeTempFile({ suffix: ".tar" });
  try {
    await docker("save", "-o", tar, IMAGE);
    await podman("load", "-i", tar);
  } finally {
    await Deno.remove(tar);
  }
}

/** Removes the tests' Podman containers. */
export async function removePodmanContainers(): Promise<void> {
  const ids = (await podman("ps", "-aq", "--filter", `label=${TEST_LABEL}`))
    .split("\n").filter(Boolean);
  if (ids.length > 0) await podman("rm", "-f", "-t", "0", ...ids);
}
