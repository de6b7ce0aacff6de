/**
 * What the agent, its sources and the HAProxy engine tell about their work,
 * for `/metrics` and `/healthz`. The parts report through this interface;
 * only the entry point decides whether anything listens (`--metrics-listen`),
 * so with it off nothing is counted and no metrics library is loaded.
 *
 * @module
 */

/** How a change reached HAProxy. */
export type ApplyMethod = "runtime" | "reload" | "files";

/** Reports of the running parts. Every method is cheap and never throws. */
export interface Telemetry {
  /** An event arrived from `source` (docker, etcd); `type` is its action. */
  event(source: string, type: string): void;
  /** The event source is connected (after its first read). */
  connected(source: string): void;
  /** The event source is lost, with the reason. */
  disconnected(source: string, reason: string): void;
  /** An etcd request failed (publisher or source). */
  etcdError(): void;
  /** A configuration was rendered. */
  rendered(): void;
  /** Runtime API operations were applied, by kind (add, remove, map ...). */
  runtimeOps(ops: readonly { readonly op: string }[]): void;
  /** HAProxy was reloaded; the reload took `seconds`. */
  reloaded(seconds: number): void;
  /** HAProxy rejected a rendering (`haproxy -c`). */
  validationFailed(): void;
  /** An update was applied, or found nothing to do; it took `seconds`. */
  applied(method: ApplyMethod, seconds: number): void;
  /** An update failed; HAProxy runs what it ran before. */
  applyFailed(reason: string): void;
  /** Containers (or their ports) not routed now, by reason. */
  unrouted(counts: ReadonlyMap<string, number>): void;
  /** Certificates served now: each name with its expiry. */
  certificates(certs: readonly { host: string; notAfter: Date }[]): void;
  /**
   * The status page `GET /` serves, from the part that knows the routes:
   * `render` is called for each request, with `health` as `/healthz` says.
   */
  statusPage(render: (health: HealthAnswer) => Promise<string>): void;
}

/** Reports that go nowhere: metrics are off. */
export const NO_TELEMETRY: Telemetry = {
  event() {},
  connected() {},
  disconnected() {},
  etcdError() {},
  rendered() {},
  runtimeOps() {},
  reloaded() {},
  validationFailed() {},
  applied() {},
  applyFailed() {},
  unrouted() {},
  certificates() {},
  statusPage() {},
};

/** The answer of `/healthz`. */
export interface HealthAnswer {
  /** True: 200; false: 503. */
  readonly healthy: boolean;
  /** One line per part, the reason first when unhealthy. */
  readonly text: string;
}

/**
 * Health as `/healthz` tells it: healthy while every event source that
 * started is connected and, once an engine applies changes, the last apply
 * succeeded. Pure apart from the clock it is given.
 */
export class Health {
  readonly #sources = new Map<string, string | null>();
  #engine = false;
  #lastApply: { ok: true; at: number } | { ok: false; reason: string } | null =
    null;

  /** Notes that an engine applies changes: health then needs a successful apply. */
  engine(): void {
    this.#engine = true;
  }

  /** Notes a source's state: null when connected, else why not. */
  source(name: string, problem: string | null): void {
    this.#sources.set(name, problem);
  }

  /** Notes an apply's outcome. */
  apply(outcome: { ok: true; at: number } | { ok: false; reason: string }) {
    this.#lastApply = outcome;
  }

  /** When the last apply succeeded, if the last one did. */
  get lastSuccess(): number | undefined {
    return this.#lastApply?.ok ? this.#lastApply.at : undefined;
  }

  /** The answer for `/healthz` at `now`. */
  answer(now: number): HealthAnswer {
    const problems: string[] = [];
    const fine: string[] = [];
    if (this.#sources.size === 0) problems.push("no event source started yet");
    for (const [name, problem] of this.#sources) {
      if (problem === null) fine.push(`${name}: connected`);
      else problems.push(`${name}: ${problem}`);
    }
    if (this.#engine) {
      const last = this.#lastApply;
      if (last === null) problems.push("haproxy: nothing applied yet");
      else if (!last.ok) {
        problems.push(`haproxy: last apply failed: ${last.reason}`);
      } else {
        fine.push(
          `haproxy: last apply succeeded ${
            Math.round((now - last.at) / 1000)
          } s ago`,
        );
      }
    }
    return {
      healthy: problems.length === 0,
      text: [...problems, ...fine].join("\n") + "\n",
    };
  }
}
