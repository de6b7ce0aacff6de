/**
 * The agent against the real Docker engine: a storm of events on one
 * container costs few inspects, and a running container connected to a
 * network is seen at once.
 */

import { assertEquals, assertTrue } from "../_fixtures/assert.ts";
import { Agent } from "../../lib/agent/agent.ts";
import { parseEvents } from "../../lib/docker/event_selector.ts";
import { connectDocker, type DockerClient } from "../../lib/docker/client.ts";
import {
  docker,
  ensureImage,
  removeContainers,
  runContainer,
  testNetwork,
  waitFor,
} from "./_harness.ts";
import { withCleanup } from "../_fixtures/cleanup.ts";

const URL = "unix:///var/run/docker.sock";

/**
 * A client of the real engine whose inspects take `delayMs` longer, like an
 * engine busy with a storm, and are counted per container.
 */
function slowInspects(
  delayMs: number,
): { client: DockerClient; inspects: Map<string, number> } {
  const real = connectDocker(URL);
  const inspects = new Map<string, number>();
  const client = new Proxy(real, {
    get(target, key, receiver) {
      if (key !== "getContainer") return Reflect.get(target, key, receiver);
      return (id: string) => {
        const handle = target.getContainer(id);
        return {
          inspect: async () => {
            inspects.set(id, (inspects.get(id) ?? 0) + 1);
            await new Promise((r) => setTimeout(r, delayMs));
            return await handle.inspect();
          },
        };
      };
    },
  });
  return { client, inspects };
}

/** An agent following the engine with one handler that records its events. */
function follow(client: DockerClient, events: string) {
  const agent = new Agent(client, { dockerUrl: URL });
  const seen: string[] = [];
  agent.add({
    name: "recorder",
    events: parseEvents(events),
    triggersNone: false,
    timeoutMs: 5000,
    handler: {
      handle: (event, id) => {
        seen.push(`${event}:${id.slice(0, 12)}`);
        return Promise.resolve();
      },
    },
  });
  const stop = new AbortController();
  const watching = agent.watch(stop.signal);
  return {
    agent,
    seen,
    async stop() {
      stop.abort();
      await watching;
      await agent.close();
    },
  };
}

Deno.test({
  name:
    "e2e agent: 200 events on one container while Docker is slow cost a handful of inspects, and the last state wins",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withCleanup(async (cleanup) => {
      await ensureImage();
      await removeContainers("dg-agent-storm");
      const net = await testNetwork(cleanup, "docker-glue-test-agent-storm");
      const { client, inspects } = slowInspects(100);
      const run = cleanup.add("agent", follow(client, "all"), (r) => r.stop());
      // PID 1 without a handler ignores SIGUSR1: every kill is an event,
      // and the container keeps running.
      const id = await runContainer("dg-agent-storm", {
        network: net.name,
        ignoreSigterm: true,
      });
      await waitFor(
        "the agent to see the container",
        () => Promise.resolve(run.agent.inventory.get(id) ? true : undefined),
      );
      const before = inspects.get(id) ?? 0;
      const real = connectDocker(URL).getContainer(id);
      await Promise.all(
        Array.from({ length: 200 }, () => real.kill({ signal: "SIGUSR1" })),
      );
      // The pause comes after every kill in Docker's stream: once the agent
      // has handled it, it has handled them all.
      await real.pause();
      await waitFor(
        "the kills and the pause to be handled",
        () =>
          Promise.resolve(
            run.seen.includes(`pause:${id.slice(0, 12)}`) ? true : undefined,
          ),
        15_000,
      );
      assertTrue(run.seen.includes(`kill:${id.slice(0, 12)}`));
      const spent = (inspects.get(id) ?? 0) - before;
      console.log(`storm on one container: 201 events, ${spent} inspects`);
      // One event at a time, 200 kills were 200 inspects (20 s at 100 ms
      // each); coalesced, one inspect per wait.
      assertTrue(spent <= 10, `${spent} inspects for 200 kill events`);
      assertTrue(run.agent.inventory.get(id)?.paused === true);
    }),
});

Deno.test({
  name:
    "e2e agent: a running container connected to a network gets its address at once, and loses it on disconnect",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withCleanup(async (cleanup) => {
      await ensureImage();
      await removeContainers("dg-agent-connect");
      const net = await testNetwork(cleanup, "docker-glue-test-connect");
      const first = await testNetwork(cleanup, "docker-glue-test-first");
      const run = cleanup.add(
        "agent",
        follow(connectDocker(URL), "start,connect,disconnect"),
        (r) => r.stop(),
      );
      const id = await runContainer("dg-agent-connect", {
        network: first.name,
      });
      await waitFor(
        "the agent to see the container",
        () => Promise.resolve(run.agent.inventory.get(id) ? true : undefined),
      );
      const address = () => run.agent.inventory.get(id)?.networks[net.name];
      assertEquals(address(), undefined);
      const connecting = performance.now();
      await docker("network", "connect", net.name, id);
      // Without the network events only the 30 s reconcile would notice.
      await waitFor("the new address", () => Promise.resolve(address()), 3000);
      console.log(
        `network connect to new address in the inventory: ${
          Math.round(performance.now() - connecting)
        } ms (docker network connect included)`,
      );
      assertTrue(run.seen.includes(`connect:${id.slice(0, 12)}`));
      await docker("network", "disconnect", net.name, id);
      await waitFor(
        "the address to go",
        () => Promise.resolve(address() === undefined ? true : undefined),
        3000,
      );
      // A container's own start connects it too: that is no extra event.
      assertEquals(
        run.seen.filter((e) => e.startsWith("connect:")).length,
        1,
      );
    }),
});
