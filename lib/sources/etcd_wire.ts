/**
 * The JSON form of etcd's v3 API as its HTTP gateway (`/v3/...`) speaks it:
 * keys and values are base64, 64-bit numbers are decimal strings, fields
 * with default values are left out. Pure functions, so the quirks are tested
 * without a server.
 *
 * We talk to this gateway with `fetch` rather than to etcd's gRPC port with
 * an npm gRPC client: Deno's `node:http2` crashes the whole process when
 * etcd closes a session (denoland/deno#36788), and a daemon must outlive
 * etcd restarts.
 *
 * @module
 */

/** One key and its value, as read. */
export interface KeyValue {
  readonly key: string;
  readonly value: string;
  /** Lease id (decimal string), `""` when the key has none. */
  readonly lease: string;
}

/** A change seen by a watch. */
export interface WatchEvent {
  readonly type: "put" | "delete";
  readonly key: string;
  /** The new value of a put; `""` for a delete. */
  readonly value: string;
}

/** One message of a watch stream. */
export type WatchMessage =
  | { readonly kind: "created" }
  | { readonly kind: "events"; readonly events: readonly WatchEvent[] }
  | { readonly kind: "canceled"; readonly reason: string }
  | { readonly kind: "other" };

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Base64 of a string's UTF-8 bytes. */
export function encodeKey(text: string): string {
  return bytesToBase64(encoder.encode(text));
}

/**
 * A string from the gateway's base64.
 *
 * @throws {TypeError} when it is not base64 of UTF-8 text.
 */
export function decodeKey(base64: string): string {
  let binary: string;
  try {
    binary = atob(base64);
  } catch {
    throw new TypeError(`etcd sent invalid base64 ${JSON.stringify(base64)}`);
  }
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  try {
    return decoder.decode(bytes);
  } catch {
    throw new TypeError("etcd sent a key or value that is not UTF-8 text");
  }
}

function bytesToBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/**
 * The `range_end` (base64) that makes a range cover every key starting with
 * `prefix`: the prefix with its last byte below 0xff incremented, as etcd's
 * own clients do.
 */
export function prefixRangeEnd(prefix: string): string {
  const bytes = encoder.encode(prefix);
  for (let i = bytes.length - 1; i >= 0; i--) {
    if (bytes[i]! < 0xff) {
      const end = bytes.slice(0, i + 1);
      end[i] = bytes[i]! + 1;
      return bytesToBase64(end);
    }
  }
  // Every byte is 0xff (or no prefix): "\0" means "to the end of the keys".
  return "AA==";
}

function record(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError(`etcd sent ${what} that is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

function text(value: unknown): string {
  return typeof value === "string" ? value : "";
}

/** gRPC status code etcd uses when a key's lease does not exist. */
export const CODE_NOT_FOUND = 5;

/** An error etcd answered with. */
export interface GatewayError {
  readonly message: string;
  /** gRPC status code (5: not found, 14: unavailable ...), 0 if none. */
  readonly code: number;
}

/**
 * The error a gateway response carries, or null. Errors look like
 * `{"error": "...", "message": "...", "code": 5}`; in streams the error is
 * an object (`{"error": {"grpc_code": 5, "message": "..."}}`).
 */
export function responseError(body: unknown): GatewayError | null {
  if (typeof body !== "object" || body === null) return null;
  const obj = body as Record<string, unknown>;
  const inner = typeof obj.error === "object" && obj.error !== null
    ? obj.error as Record<string, unknown>
    : obj;
  if (inner.error === undefined && inner.message === undefined) return null;
  const message = text(inner.message) || text(inner.error);
  const code = typeof inner.code === "number"
    ? inner.code
    : typeof inner.grpc_code === "number"
    ? inner.grpc_code
    : 0;
  return {
    message: message === "" ? "etcd reported an error" : message,
    code,
  };
}

/** The revision in a response header (decimal string, `"0"` if missing). */
export function headerRevision(body: unknown): string {
  const header = record(body, "a response").header;
  if (typeof header !== "object" || header === null) return "0";
  const revision = (header as Record<string, unknown>).revision;
  return typeof revision === "string" && /^[0-9]+$/.test(revision)
    ? revision
    : "0";
}

/** Adds one to a decimal revision string without losing digits. */
export function nextRevision(revision: string): string {
  return (BigInt(revision) + 1n).toString();
}

function keyValue(value: unknown): KeyValue {
  const kv = record(value, "a key");
  return {
    key: decodeKey(text(kv.key)),
    value: kv.value === undefined ? "" : decodeKey(text(kv.value)),
    lease: text(kv.lease),
  };
}

/** The keys of a `/v3/kv/range` response (absent when there are none). */
export function rangeKeyValues(body: unknown): KeyValue[] {
  const kvs = record(body, "a range response").kvs;
  if (kvs === undefined) return [];
  if (!Array.isArray(kvs)) {
    throw new TypeError("etcd sent kvs that is not a list");
  }
  return kvs.map(keyValue);
}

/** The lease id and TTL of a `/v3/lease/grant` response. */
export function grantedLease(body: unknown): { id: string; ttl: number } {
  const obj = record(body, "a lease grant");
  const id = text(obj.ID);
  if (!/^[1-9][0-9]*$/.test(id)) {
    throw new TypeError("etcd granted a lease without an id");
  }
  return { id, ttl: Number(text(obj.TTL) || "0") };
}

/**
 * The remaining TTL in a `/v3/lease/keepalive` response, in seconds; 0 when
 * etcd no longer knows the lease (it expired or was revoked).
 */
export function keptAliveTtl(body: unknown): number {
  const result = record(
    record(body, "a keepalive response").result,
    "a result",
  );
  const ttl = Number(text(result.TTL) || "0");
  return Number.isFinite(ttl) && ttl > 0 ? ttl : 0;
}

/**
 * One line of a `/v3/watch` stream.
 *
 * @throws {TypeError} when the line is not a watch message.
 */
export function parseWatchLine(line: string): WatchMessage {
  let body: unknown;
  try {
    body = JSON.parse(line);
  } catch {
    throw new TypeError(
      `etcd sent a watch message that is not JSON: ${line.slice(0, 80)}`,
    );
  }
  const error = responseError(body);
  if (error !== null) return { kind: "canceled", reason: error.message };
  const result = record(record(body, "a watch message").result, "a result");
  if (result.canceled === true) {
    const compacted = text(result.compact_revision);
    return {
      kind: "canceled",
      reason: compacted !== ""
        ? `history compacted up to revision ${compacted}`
        : text(result.cancel_reason) || "watch canceled by etcd",
    };
  }
  if (Array.isArray(result.events) && result.events.length > 0) {
    return {
      kind: "events",
      events: result.events.map((value): WatchEvent => {
        const event = record(value, "a watch event");
        const kv = keyValue(event.kv);
        // PUT is the enum's default value, which the gateway leaves out.
        return event.type === "DELETE"
          ? { type: "delete", key: kv.key, value: "" }
          : { type: "put", key: kv.key, value: kv.value };
      }),
    };
  }
  if (result.created === true) return { kind: "created" };
  return { kind: "other" };
}
