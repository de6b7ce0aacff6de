/**
 * The loop with its source and its status page: the same for docker-balancer, which builds it
 * from its flags and tells it what this host's engine does, and for
 * docker-glue's HAProxy handler, which builds it from its INI params and
 * hands it the agent's events.
 *
 * @module
 */

import type { Balancer } from "../haproxy/loop.ts";
import {
  type CheckedSettings,
  checkSettings,
  type HAProxySettings,
} from "../haproxy/settings.ts";
import { createBalancer } from "../haproxy/setup.ts";
import { serveStatus } from "../report/serve_status.ts";
import {
  type OpenSource,
  openSource,
  type SourceContext,
  type SourceSettings,
} from "../sources/wiring.ts";

/** Default `--watch-set`: the original's `die,start` plus what else changes routing. */
export const DEFAULT_WATCH_SET =
  "start,kill,die,stop,destroy,pause,unpause,health_status,rename,connect,disconnect";

/** Events after which a container must get no new requests at once, not after the debounce window. */
const URGENT = new Set(["kill", "pause"]);

/** How long `none` waits for the first read from etcd or of the Swarm services. */
const SOURCE_READY_MS = 10_000;

/** The service's settings as flags or INI params give them. */
export interface BalancerSettings {
  /** The engine's settings. */
  readonly haproxy: HAProxySettings;
  /** Where containers come from. */
  readonly source: SourceSettings;
}

/**
 * Checks the settings, once, into what the service is built from.
 *
 * @throws {SettingsError} naming the setting at fault.
 */
export function checkBalancerSettings(
  settings: BalancerSettings,
): ServiceSettings {
  return { haproxy: checkSettings(settings.haproxy), source: settings.source };
}

/** What the service is built from: checked engine settings and a source. */
export interface ServiceSettings {
  /** The engine's settings, checked. */
  readonly haproxy: CheckedSettings;
  /** Where the containers come from. */
  readonly source: SourceSettings;
}

/** The loop and its source, told what this host's engine does. */
export class BalancerService {
  readonly engine: Balancer;
  readonly #source: OpenSource;

  private constructor(engine: Balancer, source: OpenSource) {
    this.engine = engine;
    this.#source = source;
  }

  /**
   * Builds the source and the engine, and starts the source. The engine
   * acts from the first `none` on (see {@link Balancer.update}).
   *
   * @throws {SettingsError} or {TemplateError} as {@link createBalancer}.
   */
  static async create(
    settings: ServiceSettings,
    context: SourceContext,
  ): Promise<BalancerService> {
    let engine: Balancer | undefined;
    const source = await openSource(
      settings.source,
      context,
      // Another engine's `kill` drains at once, as this host's does.
      (event) =>
        URGENT.has(event ?? "") ? engine?.urgent() : engine?.schedule(),
    );
    try {
      engine = await createBalancer(
        settings.haproxy,
        source.containers,
        context.telemetry,
      );
    } catch (error) {
      await source.close();
      throw error;
    }
    if (context.telemetry !== undefined) {
      const loop = engine;
      serveStatus(
        context.telemetry,
        () => loop.observed,
        settings.haproxy.statsSocket,
        settings.haproxy.maps,
      );
    }
    source.start();
    return new BalancerService(engine, source);
  }

  /**
   * Updates at once: this host's inventory was read whole (at start or
   * after a reconnect). Waits for the source's first read.
   *
   * @throws {Error} when the source is not read in time: the running
   * configuration is kept. {@link Balancer.update} for the rest.
   */
  async resynced(): Promise<void> {
    if (!(await this.#source.ready(SOURCE_READY_MS))) {
      throw new Error(
        `${this.#source.notReady} within ${
          SOURCE_READY_MS / 1000
        } s; kept the running configuration`,
      );
    }
    await this.engine.update();
  }

  /**
   * A container of this host's engine changed: a `kill` or `pause` is
   * urgent; other actions let the burst collect. Docker events say nothing
   * about etcd, whose own changes schedule updates.
   */
  changed(action: string): void {
    if (this.#source.kind === "etcd") return;
    if (URGENT.has(action)) this.engine.urgent();
    else this.engine.schedule();
  }

  /** Waits for an update in progress and stops the engine and the source. */
  async close(): Promise<void> {
    await this.engine.close();
    await this.#source.close();
  }
}
