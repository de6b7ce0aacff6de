/**
 * Swarm services (`--source swarm`): a service carries the glue_* labels
 * (`docker service create --label`), its tasks are the servers. On a swarm
 * manager, the tasks running on this node are containers of the local
 * engine; each gets its service's labels (its own labels win), and is then
 * routed like any container. Services are re-read on every Docker `service`
 * event, so a label added to a running service (`docker service update
 * --label-add`) takes effect without a restart.
 *
 * Which address: a task on the default bridge (a service created without
 * `--network`) is reached on its bridge address. A task on overlay networks
 * is not: overlay addresses live inside Docker's network namespaces, and
 * the host sends what it addresses to them out of its default route. Docker
 * also gives such a task an address on `docker_gwbridge`, a bridge on the
 * host, for its outside traffic; that address answers from the host, so it
 * is the task's only address here.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { type DockerClient, statusCodeOf } from "../docker/client.ts";
import type { ContainerRecord, ContainerSource } from "../docker/container.ts";
import { readEvents } from "../docker/events.ts";
import { backoff, sleep } from "../util/sleep.ts";
import { Latch } from "../util/latch.ts";
import { Debouncer } from "../util/debounce.ts";
import { errorMessage } from "../util/error_message.ts";

const log = getLogger(["docker-glue", "swarm"]);

/** The label Docker puts on a task's container, naming its service. */
export const SERVICE_ID_LABEL = "com.docker.swarm.service.id";

/**
 * A task container with its service's labels under its own: the container's
 * labels win. Containers that belong to no known service are returned as
 * they are. Pure.
 */
export function withServiceLabels(
  container: ContainerRecord,
  services: ReadonlyMap<string, Readonly<Record<string, string>>>,
): ContainerRecord {
  const id = container.labels[SERVICE_ID_LABEL];
  const labels = id === undefined ? undefined : services.get(id);
  if (labels === undefined) return container;
  return { ...container, labels: { ...labels, ...container.labels } };
}

/** Docker's bridge on the host for the outside traffic of tasks on overlay networks. */
export const GATEWAY_NETWORK = "docker_gwbridge";

/** What the source knows of the swarm, as {@link taskView} needs it. */
export interface SwarmState {
  /** Labels of every service, by service id. */
  readonly services: ReadonlyMap<string, Readonly<Record<string, string>>>;
  /** Address on {@link GATEWAY_NETWORK}, by container id. */
  readonly gateways: ReadonlyMap<string, string>;
  /** When the gateway addresses were last read (ms, taken before the read). */
  readonly gatewaysReadAt: number;
}

/**
 * A container as HAProxy on this host sees it: a task gets its service's
 * labels, and a task that is not on the default bridge is known by its
 * `docker_gwbridge` address alone (none on an internal overlay network),
 * since its overlay addresses do not answer from the host. Null for a
 * running task that started after the gateway addresses were last read: its
 * address is not known yet, and routing it on an overlay address would send
 * requests out of the host. Pure.
 */
export function taskView(
  container: ContainerRecord,
  state: SwarmState,
): ContainerRecord | null {
  const labelled = withServiceLabels(container, state.services);
  if (
    container.labels[SERVICE_ID_LABEL] === undefined ||
    container.ipAddress !== ""
  ) {
    return labelled;
  }
  const gateway = state.gateways.get(container.id);
  if (gateway !== undefined) {
    return { ...labelled, networks: { [GATEWAY_NETWORK]: gateway } };
  }
  // Docker attaches a task to its networks before it starts it, so a read
  // begun after the start has the task's gateway address if it has one.
  if (
    container.running &&
    !(Date.parse(container.startedAt) < state.gatewaysReadAt)
  ) {
    return null;
  }
  return { ...labelled, networks: {} };
}

/** The labels of every service, by service id, as the engine lists them. */
async function readServices(
  docker: DockerClient,
): Promise<Map<string, Record<string, string>>> {
  const services = await docker.listServices();
  const out = new Map<string, Record<string, string>>();
  for (const service of services) {
    const id = service.ID;
    if (typeof id !== "string") continue;
    const labels: Record<string, string> = {};
    for (const [key, value] of Object.entries(service.Spec?.Labels ?? {})) {
      if (typeof value === "string") labels[key] = value;
    }
    out.set(id, labels);
  }
  return out;
}

/** Every container's address on {@link GATEWAY_NETWORK}; none before the first overlay task. */
async function readGateways(
  docker: DockerClient,
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let endpoints: Record<string, { IPv4Address?: string }>;
  try {
    const network = await docker.getNetwork(GATEWAY_NETWORK).inspect();
    endpoints = network.Containers ?? {};
  } catch (error) {
    if (statusCodeOf(error) === 404) return out;
    throw error;
  }
  for (const [id, endpoint] of Object.entries(endpoints)) {
    const address = endpoint.IPv4Address?.split("/")[0] ?? "";
    if (address !== "") out.set(id, address);
  }
  return out;
}

/**
 * The local engine's containers with their services' labels and the
 * addresses this host reaches them on. Services are re-read on the engine's
 * `service` events; the gateway addresses whenever a task is seen that
 * started after their last read.
 */
export class SwarmSource implements ContainerSource {
  readonly #docker: DockerClient;
  readonly #containers: ContainerSource;
  readonly #onChange: () => void;
  #state: SwarmState = {
    services: new Map(),
    gateways: new Map(),
    gatewaysReadAt: -Infinity,
  };
  readonly #read = new Latch();
  readonly #closed = new AbortController();
  // Tasks start in bursts (a scale, a deploy): one read at a time serves
  // every task seen while it runs.
  readonly #gatewayReads = new Debouncer(
    () => this.#readGateways(),
    { quietMs: 0, maxMs: 0 },
  );
  #gatewayFailures = 0;
  #running: Promise<void> | null = null;

  /** `containers` are the engine's (the inventory); `onChange` runs when labels or addresses change. */
  constructor(
    docker: DockerClient,
    containers: ContainerSource,
    onChange: () => void,
  ) {
    this.#docker = docker;
    this.#containers = containers;
    this.#onChange = onChange;
  }

  /** Reads the services and gateway addresses once, as `routes` and `-1` need. */
  static async once(
    docker: DockerClient,
    containers: ContainerSource,
  ): Promise<SwarmSource> {
    const source = new SwarmSource(docker, containers, () => {});
    const gatewaysReadAt = Date.now();
    source.#state = {
      services: await readServices(docker),
      gateways: await readGateways(docker),
      gatewaysReadAt,
    };
    return source;
  }

  /**
   * The containers as HAProxy on this host sees them (see {@link taskView});
   * a task whose address is not known yet is left out until the read it
   * asks for.
   */
  list(): ContainerRecord[] {
    const out: ContainerRecord[] = [];
    for (const container of this.#containers.list()) {
      const view = taskView(container, this.#state);
      if (view !== null) out.push(view);
      else this.#gatewayReads.trigger();
    }
    return out;
  }

  /** Reads the services and follows their events in the background. */
  start(): void {
    this.#running ??= this.#run();
  }

  /** Resolves true once the services have been read, or false after `ms`. */
  ready(ms: number): Promise<boolean> {
    return this.#read.wait(ms);
  }

  /** Stops following. */
  async close(): Promise<void> {
    this.#closed.abort();
    await this.#running;
    await this.#gatewayReads.stop();
  }

  async #run(): Promise<void> {
    const signal = this.#closed.signal;
    let attempt = 0;
    while (!signal.aborted) {
      try {
        // Open the stream before reading, so no change falls between.
        const stream = await this.#docker.getEvents({
          filters: { type: ["service"] },
        }) as unknown as AsyncIterable<Uint8Array> & { destroy(): void };
        const stop = () => stream.destroy();
        signal.addEventListener("abort", stop, { once: true });
        try {
          await this.#readServices();
          attempt = 0;
          for await (const line of readEvents(stream)) {
            if ("event" in line) await this.#readServices();
          }
        } finally {
          signal.removeEventListener("abort", stop);
          stream.destroy();
        }
      } catch (error) {
        if (signal.aborted) return;
        if (error instanceof Deno.errors.NotCapable) throw error;
        log.warn(
          "Cannot read Swarm services: {error}; keeping the last known labels",
          { error: errorMessage(error) },
        );
      }
      await sleep(backoff(attempt++, 250, 5000), signal);
    }
  }

  async #readServices(): Promise<void> {
    const first = !this.#read.isOpen;
    const services = await readServices(this.#docker);
    this.#state = { ...this.#state, services };
    if (first) {
      log.info("Read {count} Swarm services", { count: services.size });
    }
    this.#read.open();
    this.#onChange();
  }

  async #readGateways(): Promise<void> {
    const gatewaysReadAt = Date.now();
    let gateways: Map<string, string>;
    try {
      gateways = await readGateways(this.#docker);
    } catch (error) {
      if (this.#gatewayFailures++ === 0) {
        log.warn(
          "Cannot read the task addresses on {network}: {error}; tasks started since the last read wait, trying again",
          {
            network: GATEWAY_NETWORK,
            error: errorMessage(error),
          },
        );
      }
      // The render this causes leaves the task out again, and so asks again.
      await sleep(
        backoff(this.#gatewayFailures - 1, 500, 10_000),
        this.#closed.signal,
      );
      this.#onChange();
      return;
    }
    if (this.#gatewayFailures > 0) {
      log.info("Read the task addresses on {network} again", {
        network: GATEWAY_NETWORK,
      });
      this.#gatewayFailures = 0;
    }
    this.#state = { ...this.#state, gateways, gatewaysReadAt };
    this.#onChange();
  }
}
