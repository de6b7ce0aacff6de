/**
 * Swarm services (`--source swarm`): a service carries the glue_* labels
 * (`docker service create --label`), its tasks are the servers. On a swarm
 * manager, the tasks running on this node are containers of the local
 * engine; each gets its service's labels (its own labels win), and is then
 * routed like any container, on its own address. Services are re-read on
 * every Docker `service` event, so a label added to a running service
 * (`docker service update --label-add`) takes effect without a restart.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { DockerClient } from "./client.ts";
import type { ContainerRecord, ContainerSource } from "./container.ts";
import { readEvents } from "./events.ts";
import { backoff, sleep } from "../util/sleep.ts";
import { Latch } from "../util/latch.ts";

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

/**
 * The local engine's containers with their services' labels, kept current
 * by the engine's `service` events.
 */
export class SwarmSource implements ContainerSource {
  readonly #docker: DockerClient;
  readonly #containers: ContainerSource;
  readonly #onChange: () => void;
  #services: Map<string, Record<string, string>> | null = null;
  readonly #read = new Latch();
  readonly #closed = new AbortController();
  #running: Promise<void> | null = null;

  /** `containers` are the engine's (the inventory); `onChange` runs when service labels change. */
  constructor(
    docker: DockerClient,
    containers: ContainerSource,
    onChange: () => void,
  ) {
    this.#docker = docker;
    this.#containers = containers;
    this.#onChange = onChange;
  }

  /** Reads the services once, as `routes` and `-1` need. */
  static async once(
    docker: DockerClient,
    containers: ContainerSource,
  ): Promise<SwarmSource> {
    const source = new SwarmSource(docker, containers, () => {});
    source.#services = await readServices(docker);
    return source;
  }

  /** The containers, task containers with their service's labels. */
  list(): ContainerRecord[] {
    const services = this.#services ?? new Map();
    return this.#containers.list().map((c) => withServiceLabels(c, services));
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
          await this.#reload();
          attempt = 0;
          for await (const line of readEvents(stream)) {
            if ("event" in line) await this.#reload();
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
          { error: error instanceof Error ? error.message : String(error) },
        );
      }
      await sleep(backoff(attempt++, 250, 5000), signal);
    }
  }

  async #reload(): Promise<void> {
    const first = this.#services === null;
    this.#services = await readServices(this.#docker);
    if (first) {
      log.info("Read {count} Swarm services", { count: this.#services.size });
    }
    this.#read.open();
    this.#onChange();
  }
}
