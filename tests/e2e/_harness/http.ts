/**
 * A raw HTTP and TCP client, so the Host header is the test's, and waits for
 * an answer through HAProxy.
 *
 * @module
 */

import { waitFor } from "./base.ts";
import { runContainer } from "./docker.ts";

const decoder = new TextDecoder();

/** An HTTP response as the client saw it. */
export interface Response {
  status: number;
  body: string;
}

/**
 * Opens a TCP connection to 127.0.0.1:`port`, writes `payload`, and returns
 * everything the peer sends until it closes (or `timeoutMs` passes).
 */
export async function tcpExchange(
  port: number,
  payload: string,
  timeoutMs = 3000,
): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const timer = setTimeout(() => conn.close(), timeoutMs);
  try {
    await conn.write(new TextEncoder().encode(payload));
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(16384);
    while (true) {
      const n = await conn.read(buf);
      if (n === null) break;
      chunks.push(buf.slice(0, n));
    }
    return decoder.decode(new Uint8Array(chunks.flatMap((c) => [...c])));
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // closed by the timer or the peer
    }
  }
}

/** Splits a raw HTTP response into status and trimmed body. */
export function parseResponse(text: string): Response {
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);
  return { status, body: text.slice(text.indexOf("\r\n\r\n") + 4).trim() };
}

/** Sends one HTTP/1.0 request to 127.0.0.1:`port` with the given Host header. */
export async function httpGet(
  port: number,
  host: string,
  path: string,
  timeoutMs = 3000,
): Promise<Response> {
  return parseResponse(
    await tcpExchange(
      port,
      `GET ${path} HTTP/1.0\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
      timeoutMs,
    ),
  );
}

/** Waits until `host` + `path` through HAProxy answers with `status`. */
export async function waitForStatus(
  port: number,
  host: string,
  path: string,
  status: number,
  ms = 20000,
): Promise<void> {
  await waitFor(
    `${host}${path} to answer ${status}`,
    async () => {
      const res = await httpGet(port, host, path);
      return res.status === status ? true : undefined;
    },
    ms,
    50,
  );
}

/** Waits until `host` + `path` through HAProxy answers 200 with `body`; resolves to the wait in ms. */
export async function waitForBody(
  port: number,
  host: string,
  path: string,
  body: string,
  ms = 20000,
): Promise<number> {
  const start = performance.now();
  await waitFor(
    `${host}${path} to answer "${body}"`,
    async () => {
      const res = await httpGet(port, host, path);
      return res.status === 200 && res.body === body ? true : undefined;
    },
    ms,
    20,
  );
  return performance.now() - start;
}

/**
 * Starts a container serving `host` on `network` and returns how long after
 * `docker run` returned HAProxy on `port` answered with it. A container
 * routed beside a hostile one (issue 31) must answer within 1 s: this
 * throws when it does not.
 */
export async function routedAfterRun(
  network: string,
  port: number,
  name: string,
  host: string,
): Promise<number> {
  await runContainer(name, { network, labels: { glue_http_80_host: host } });
  const ms = await waitForBody(port, host, "/whoami", `${name} /`, 5000);
  if (ms >= 1000) {
    throw new Error(`${name} routed ${ms.toFixed(0)} ms after docker run`);
  }
  return ms;
}

/** Runs curl (`-s -g -i`, at most 10 s); returns the status line's code, the headers and the body. */
export async function curl(
  url: string,
  ...args: string[]
): Promise<{ status: number; headers: string; body: string }> {
  const out = await new Deno.Command("curl", {
    args: ["-s", "-g", "-i", "--max-time", "10", ...args, url],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const split = text.indexOf("\r\n\r\n");
  const headers = split < 0 ? text : text.slice(0, split);
  return {
    status: Number(/^HTTP\/[0-9.]+ (\d{3})/.exec(text)?.[1] ?? 0),
    headers,
    body: split < 0 ? "" : text.slice(split + 4),
  };
}
