/**
 * A small etcd v3 client over etcd's HTTP gateway: the handful of calls the
 * publisher and the etcd-fed balancer make (range, put, delete, lease grant
 * and keepalive, watch). Each call tries the endpoints in turn, starting
 * with the last one that answered.
 *
 * @module
 */

import {
  encodeKey,
  grantedLease,
  headerRevision,
  keptAliveTtl,
  type KeyValue,
  nextRevision,
  parseWatchLine,
  prefixRangeEnd,
  rangeKeyValues,
  responseError,
  type WatchEvent,
} from "./etcd_wire.ts";
import type { EtcdCredentials } from "./etcd_access.ts";

/** etcd's gRPC code for a token it no longer knows (it expired, or etcd restarted). */
const CODE_UNAUTHENTICATED = 16;

/** How long one call may take by default. */
export const DEFAULT_CALL_TIMEOUT_MS = 5000;

/** A failed etcd call. */
export class EtcdError extends Error {
  /** True when no endpoint could be reached (as opposed to an etcd refusal). */
  readonly unreachable: boolean;
  /** etcd's gRPC status code for a refusal, 0 otherwise. */
  readonly code: number;

  constructor(message: string, unreachable: boolean, code = 0) {
    super(message);
    this.name = "EtcdError";
    this.unreachable = unreachable;
    this.code = code;
  }
}

/** A snapshot of keys under a prefix and the revision it was read at. */
export interface RangeResult {
  readonly kvs: readonly KeyValue[];
  readonly revision: string;
}

function reason(error: unknown): string {
  if (error instanceof DOMException && error.name === "TimeoutError") {
    return "no answer in time";
  }
  // Deno's fetch fails with "fetch failed" and a cause that names the URL
  // and a chain of reasons; the last reason is what an operator needs
  // ("Connection refused (os error 111)").
  const cause = error instanceof Error && error.cause instanceof Error
    ? error.cause
    : error;
  const message = cause instanceof Error ? cause.message : String(cause);
  return message.split(": ").at(-1) ?? message;
}

/** An etcd client for a list of endpoints (`http://host:port`). */
export class EtcdClient {
  readonly #endpoints: readonly string[];
  readonly #timeoutMs: number;
  readonly #closed = new AbortController();
  readonly #credentials: EtcdCredentials;
  #current = 0;
  /** The token of the last authentication, while etcd takes it. */
  #token: Promise<string> | null = null;

  /** Creates the client; nothing is sent until the first call. */
  constructor(
    endpoints: readonly string[],
    credentials: EtcdCredentials = {},
    timeoutMs = DEFAULT_CALL_TIMEOUT_MS,
  ) {
    if (endpoints.length === 0) throw new TypeError("no etcd endpoints given");
    this.#endpoints = endpoints.map((e) => e.replace(/\/+$/, ""));
    this.#timeoutMs = timeoutMs;
    this.#credentials = credentials;
  }

  /** The endpoints, comma separated, for messages. */
  get endpoints(): string {
    return this.#endpoints.join(",");
  }

  /** Cancels every call under way; later calls fail at once. */
  close(): void {
    this.#closed.abort();
    this.#credentials.http?.close();
  }

  /** The request headers: JSON, and the token when etcd wants a user. */
  async #headers(): Promise<Record<string, string>> {
    const login = this.#credentials.login;
    if (login === undefined) return { "content-type": "application/json" };
    this.#token ??= this.#post("/v3/auth/authenticate", login, {}).then(
      (answer) => {
        const token = (answer as { token?: unknown }).token;
        if (typeof token !== "string" || token === "") {
          throw new EtcdError("etcd gave no token", false);
        }
        return token;
      },
    );
    // A failed authentication is tried again on the next call.
    const token = await this.#token.catch((error) => {
      this.#token = null;
      throw error;
    });
    return { "content-type": "application/json", authorization: token };
  }

  /**
   * Posts one JSON request as the configured user; when etcd no longer
   * knows the token (it expired), logs in again once.
   */
  async #call(path: string, body: unknown): Promise<unknown> {
    try {
      return await this.#post(path, body, await this.#headers());
    } catch (error) {
      if (
        !(error instanceof EtcdError) ||
        error.code !== CODE_UNAUTHENTICATED ||
        this.#credentials.login === undefined
      ) throw error;
      this.#token = null;
      return await this.#post(path, body, await this.#headers());
    }
  }

  /**
   * Posts one JSON request, trying each endpoint once. Returns the parsed
   * answer of the first endpoint that gives one.
   */
  async #post(
    path: string,
    body: unknown,
    headers: Record<string, string>,
  ): Promise<unknown> {
    const failures: string[] = [];
    for (let i = 0; i < this.#endpoints.length; i++) {
      if (this.#closed.signal.aborted) {
        throw new EtcdError("etcd client closed", false);
      }
      const index = (this.#current + i) % this.#endpoints.length;
      const endpoint = this.#endpoints[index]!;
      let response: Response;
      let answer: unknown;
      try {
        response = await fetch(`${endpoint}${path}`, {
          method: "POST",
          headers,
          body: JSON.stringify(body),
          ...this.#fetchClient(),
          signal: AbortSignal.any([
            this.#closed.signal,
            AbortSignal.timeout(this.#timeoutMs),
          ]),
        });
        const textBody = await response.text();
        try {
          answer = JSON.parse(textBody);
        } catch {
          throw new Error(
            `HTTP ${response.status}, not an etcd answer: ${
              textBody.slice(0, 80)
            }`,
          );
        }
      } catch (error) {
        failures.push(`${endpoint}: ${reason(error)}`);
        continue;
      }
      this.#current = index;
      const refused = responseError(answer);
      if (refused !== null || !response.ok) {
        throw new EtcdError(
          `etcd at ${endpoint} refused ${path}: ${
            refused?.message ?? `HTTP ${response.status}`
          }`,
          false,
          refused?.code ?? 0,
        );
      }
      return answer;
    }
    throw new EtcdError(`cannot reach etcd (${failures.join("; ")})`, true);
  }

  #fetchClient(): { client?: Deno.HttpClient } {
    const http = this.#credentials.http;
    return http === undefined ? {} : { client: http };
  }

  /** Asks etcd for its status: resolves when an endpoint answers. */
  async status(): Promise<void> {
    await this.#call("/v3/maintenance/status", {});
  }

  /** Every key under `prefix`, with the revision of the read. */
  async range(prefix: string): Promise<RangeResult> {
    const answer = await this.#call("/v3/kv/range", {
      key: encodeKey(prefix),
      range_end: prefixRangeEnd(prefix),
    });
    return { kvs: rangeKeyValues(answer), revision: headerRevision(answer) };
  }

  /** Stores a value, attached to a lease when `lease` is given. */
  async put(key: string, value: string, lease?: string): Promise<void> {
    await this.#call("/v3/kv/put", {
      key: encodeKey(key),
      value: encodeKey(value),
      ...(lease === undefined ? {} : { lease }),
    });
  }

  /** Deletes one key (no error when it is already gone). */
  async delete(key: string): Promise<void> {
    await this.#call("/v3/kv/deleterange", { key: encodeKey(key) });
  }

  /** Grants a lease of `ttl` seconds. */
  async grant(ttl: number): Promise<{ id: string; ttl: number }> {
    return grantedLease(await this.#call("/v3/lease/grant", { TTL: ttl }));
  }

  /** Refreshes a lease; resolves to its TTL, 0 when etcd no longer has it. */
  async keepAlive(id: string): Promise<number> {
    return keptAliveTtl(await this.#call("/v3/lease/keepalive", { ID: id }));
  }

  /**
   * Watches every key under `prefix` from the revision after `revision`,
   * calling `onEvents` for each batch. Resolves when `signal` aborts; rejects
   * when the stream breaks or etcd cancels the watch (for instance because
   * the history was compacted), after which the caller reads afresh.
   */
  async watch(
    prefix: string,
    revision: string,
    onEvents: (events: readonly WatchEvent[]) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const endpoint = this.#endpoints[this.#current]!;
    const both = AbortSignal.any([signal, this.#closed.signal]);
    const headers = await this.#headers();
    let response: Response;
    try {
      response = await fetch(`${endpoint}/v3/watch`, {
        method: "POST",
        headers,
        ...this.#fetchClient(),
        body: JSON.stringify({
          create_request: {
            key: encodeKey(prefix),
            range_end: prefixRangeEnd(prefix),
            start_revision: nextRevision(revision),
          },
        }),
        signal: both,
      });
    } catch (error) {
      if (both.aborted) return;
      throw new EtcdError(
        `cannot watch etcd at ${endpoint}: ${reason(error)}`,
        true,
      );
    }
    if (!response.ok || response.body === null) {
      await response.body?.cancel();
      // The token expired: the next watch logs in again.
      if (response.status === 401) this.#token = null;
      throw new EtcdError(
        `etcd at ${endpoint} refused the watch: HTTP ${response.status}`,
        false,
      );
    }
    const reader = response.body.pipeThrough(new TextDecoderStream())
      .getReader();
    // The fetch's abort did not always reach a body being read: with 4,000
    // containers a closing balancer waited on this read for ever. Cancelling
    // the reader ends the read whatever the fetch does.
    const cancel = () => void reader.cancel().catch(() => {});
    signal.addEventListener("abort", cancel, { once: true });
    this.#closed.signal.addEventListener("abort", cancel, { once: true });
    if (both.aborted) cancel();
    try {
      await readWatch(reader, onEvents);
    } catch (error) {
      if (both.aborted) return;
      if (error instanceof EtcdError) throw error;
      throw new EtcdError(
        `lost the watch on etcd at ${endpoint}: ${reason(error)}`,
        true,
      );
    } finally {
      signal.removeEventListener("abort", cancel);
      this.#closed.signal.removeEventListener("abort", cancel);
    }
    if (both.aborted) return;
    throw new EtcdError(`etcd at ${endpoint} closed the watch`, true);
  }
}

/**
 * Reads a watch's stream, one JSON message a line, until it ends.
 *
 * @throws {EtcdError} when etcd cancels the watch.
 */
async function readWatch(
  reader: ReadableStreamDefaultReader<string>,
  onEvents: (events: readonly WatchEvent[]) => void,
): Promise<void> {
  let buffered = "";
  while (true) {
    const { value: chunk, done } = await reader.read();
    if (done) return;
    buffered += chunk;
    let newline: number;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, newline).trim();
      buffered = buffered.slice(newline + 1);
      if (line === "") continue;
      const message = parseWatchLine(line);
      if (message.kind === "events") onEvents(message.events);
      if (message.kind === "canceled") {
        throw new EtcdError(`etcd ended the watch: ${message.reason}`, false);
      }
    }
  }
}
