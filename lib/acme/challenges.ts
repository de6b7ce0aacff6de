/**
 * HTTP-01 answers served by HAProxy itself: tokens go into a map that the
 * runtime API changes and an `http-request return` rule reads, so a
 * challenge needs no reload, no listener of ours and no extra port.
 *
 * @module
 */

/** Where HTTP-01 answers go: HAProxy, through its ACME map. */
export interface ChallengeResponder {
  /**
   * Resolves once HAProxy answers `token` with `keyAuthorization`; rejects
   * when `signal` aborts first.
   */
  publish(
    token: string,
    keyAuthorization: string,
    signal?: AbortSignal,
  ): Promise<void>;
  /** Stops answering `token`. */
  withdraw(token: string): Promise<void>;
}

/** How the challenge map reaches HAProxy: the engine. */
export interface ChallengeEngine {
  /** Asks for an update. */
  schedule(): void;
  /** Whether HAProxy answers `key` with `value` in `file` now. */
  serves(file: string, key: string, value: string): boolean;
}

/** How long HAProxy may take to answer a new token before the challenge fails. */
const PUBLISH_TIMEOUT_MS = 15_000;

/** The tokens HAProxy should answer, and the responder the ACME client uses. */
export class ChallengeMap implements ChallengeResponder {
  readonly #file: string;
  readonly #entries = new Map<string, string>();
  #engine: ChallengeEngine | undefined;

  /** `file` is the ACME map the configuration names. */
  constructor(file: string) {
    this.#file = file;
  }

  /** Connects the engine that installs the map (made after this). */
  attach(engine: ChallengeEngine): void {
    this.#engine = engine;
  }

  /** Entries for the map: token and key authorization. */
  entries(): [string, string][] {
    return [...this.#entries];
  }

  /** Adds the token and waits until HAProxy answers it, or `signal` aborts. */
  async publish(
    token: string,
    keyAuthorization: string,
    signal?: AbortSignal,
  ): Promise<void> {
    // Tokens are base64url; anything else must not reach the map file.
    if (
      !/^[A-Za-z0-9_-]+$/.test(token) ||
      !/^[A-Za-z0-9_.-]+$/.test(keyAuthorization)
    ) {
      throw new TypeError(
        `Unexpected characters in ACME token ${JSON.stringify(token)}`,
      );
    }
    const engine = this.#engine;
    if (engine === undefined) throw new Error("No engine for ACME challenges");
    this.#entries.set(token, keyAuthorization);
    engine.schedule();
    const deadline = Date.now() + PUBLISH_TIMEOUT_MS;
    while (!engine.serves(this.#file, token, keyAuthorization)) {
      signal?.throwIfAborted();
      if (Date.now() > deadline) {
        throw new Error(
          `HAProxy did not take the challenge token within ${
            PUBLISH_TIMEOUT_MS / 1000
          } s`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Removes the token. */
  withdraw(token: string): Promise<void> {
    this.#entries.delete(token);
    this.#engine?.schedule();
    return Promise.resolve();
  }
}
