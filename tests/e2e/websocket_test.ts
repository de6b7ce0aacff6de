/**
 * Long-lived connections through a real HAProxy (issue 33): a WebSocket
 * idle for longer than HAProxy's client and server timeouts stays open;
 * another exchanges messages while 20 containers join and leave and while
 * HAProxy reloads; both are closed soon after their container stops, also
 * the one the old worker still holds after the reload.
 *
 * The container answers the handshake as RFC 6455 asks (its
 * `Sec-WebSocket-Accept` is checked) and then echoes what it gets; the
 * client sends unmasked frames, which HAProxy passes on as it passes any
 * upgraded connection, so the echo is a valid server frame.
 */

import { assertEquals, assertTrue } from "../_fixtures/assert.ts";
import {
  masterProc,
  removeContainers,
  runContainer,
  runScriptServer,
  startManaged,
  waitForBody,
} from "./_harness.ts";
import { withCleanup } from "../_fixtures/cleanup.ts";
import { sleep } from "../../lib/util/sleep.ts";

const HOST = "ws.example.com";
const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

// Run for each connection: answers the handshake, then
// echoes. Busybox's applets by name, as the test image links only a few.
const SERVER = `read_head
key=$(printf '%s' "$head" | busybox sed -n 's/^[Ss]ec-[Ww]eb[Ss]ocket-[Kk]ey: *//p')
accept=$(printf '%s' "\${key}${GUID}" | busybox sha1sum | busybox cut -d' ' -f1 | busybox xxd -r -p | busybox base64)
printf 'HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\nSec-WebSocket-Accept: %s\\r\\n\\r\\n' "$accept"
exec busybox cat
`;

/** The accept value RFC 6455 asks of the server for `key`. */
async function acceptOf(key: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-1",
    new TextEncoder().encode(key + GUID),
  );
  return btoa(String.fromCharCode(...new Uint8Array(digest)));
}

/** The pid of HAProxy's current worker (the one that has not been reloaded). */
async function currentWorker(): Promise<number | undefined> {
  return (await masterProc())?.workers.find((w) => w.reloads === 0)?.pid;
}

/** One unmasked text frame of at most 125 bytes. */
function frame(text: string): Uint8Array {
  const body = new TextEncoder().encode(text);
  return new Uint8Array([0x81, body.length, ...body]);
}

/** A WebSocket client on a raw connection through HAProxy. */
class Socket {
  readonly #conn: Deno.TcpConn;
  #buffer = new Uint8Array(0);
  /** The read in progress: one that timed out is taken up by the next. */
  #reading: Promise<Uint8Array | null> | null = null;
  closedAt: number | null = null;

  private constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
  }

  /** Connects and completes the handshake; throws when it is refused. */
  static async open(port: number): Promise<Socket> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const socket = new Socket(conn);
    const key = btoa(
      String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))),
    );
    await socket.#write(
      new TextEncoder().encode(
        `GET /chat HTTP/1.1\r\nHost: ${HOST}\r\nUpgrade: websocket\r\n` +
          `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\n` +
          `Sec-WebSocket-Version: 13\r\n\r\n`,
      ),
    );
    const head = await socket.#until("\r\n\r\n", 5000);
    assertTrue(head.startsWith("HTTP/1.1 101"), head);
    // HAProxy passes header names on in lower case.
    const accept = head.split("\r\n").find((line) =>
      line.toLowerCase().startsWith("sec-websocket-accept:")
    );
    assertEquals(
      accept?.slice(accept.indexOf(":") + 1).trim(),
      await acceptOf(key),
    );
    return socket;
  }

  /** Sends `text` and waits for its echo. */
  async echo(text: string): Promise<void> {
    await this.#write(frame(text));
    const back = await this.#bytes(2 + text.length, 5000);
    assertEquals(new TextDecoder().decode(back.slice(2)), text);
  }

  /**
   * Resolves when the connection ends (true), or after `ms` with it still
   * open (false); anything read meanwhile is an error.
   */
  async ended(ms: number): Promise<boolean> {
    const result = await this.#read(ms);
    if (result === "late") return false;
    assertEquals(result, null, "nothing should arrive on an idle socket");
    this.closedAt = Date.now();
    return true;
  }

  /** The next bytes, null at the end, or "late" after `ms`. */
  async #read(ms: number): Promise<Uint8Array | null | "late"> {
    this.#reading ??= (async () => {
      const chunk = new Uint8Array(4096);
      const n = await this.#conn.read(chunk).catch(() => null);
      return n === null ? null : chunk.slice(0, n);
    })();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const result = await Promise.race([
      this.#reading,
      new Promise<"late">((r) => timer = setTimeout(() => r("late"), ms)),
    ]);
    clearTimeout(timer);
    if (result !== "late") this.#reading = null;
    return result;
  }

  close(): void {
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
  }

  async #write(bytes: Uint8Array): Promise<void> {
    let done = 0;
    while (done < bytes.length) {
      done += await this.#conn.write(bytes.slice(done));
    }
  }

  async #more(deadline: number): Promise<void> {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error("timed out reading from the socket");
    const chunk = await this.#read(left);
    if (chunk === "late") throw new Error("timed out reading from the socket");
    if (chunk === null) throw new Error("the connection was closed");
    const next = new Uint8Array(this.#buffer.length + chunk.length);
    next.set(this.#buffer);
    next.set(chunk, this.#buffer.length);
    this.#buffer = next;
  }

  async #until(end: string, ms: number): Promise<string> {
    const deadline = Date.now() + ms;
    while (true) {
      const text = new TextDecoder().decode(this.#buffer);
      const at = text.indexOf(end);
      if (at >= 0) {
        this.#buffer = this.#buffer.slice(
          new TextEncoder().encode(text.slice(0, at + end.length)).length,
        );
        return text.slice(0, at);
      }
      await this.#more(deadline);
    }
  }

  async #bytes(count: number, ms: number): Promise<Uint8Array> {
    const deadline = Date.now() + ms;
    while (this.#buffer.length < count) await this.#more(deadline);
    const out = this.#buffer.slice(0, count);
    this.#buffer = this.#buffer.slice(count);
    return out;
  }
}

Deno.test({
  name:
    "e2e websocket: an idle WebSocket outlives HAProxy's 60 s timeouts; another talks through 20 joins and leaves and a reload; both close soon after their container stops, the old worker's too",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: (t) =>
    withCleanup(async (cleanup) => {
      const { net, port } = await startManaged(
        cleanup,
        "docker-glue-test-ws",
      );
      await runScriptServer(cleanup, "dg-ws", {
        network: net.name,
        labels: { glue_http_80_host: HOST },
      }, SERVER);
      // Routed: a WebSocket handshake is answered.
      let idle: Socket | null = null;
      const opened = Date.now();
      for (let i = 0; idle === null; i++) {
        try {
          idle = await Socket.open(port);
        } catch (error) {
          if (i > 50) throw error;
          await sleep(100);
        }
      }
      cleanup.defer("the idle socket", () => Promise.resolve(idle?.close()));
      await idle.echo("hello");
      const talker = await Socket.open(port);
      cleanup.defer(
        "the talking socket",
        () => Promise.resolve(talker.close()),
      );
      const workerBefore = await currentWorker();

      await t.step(
        "one talks while 20 containers join and leave and HAProxy reloads",
        async () => {
          for (let i = 0; i < 20; i++) {
            await runContainer(`dg-ws-other-${i}`, {
              network: net.name,
              labels: { glue_http_80_host: `other${i % 4}.example.com` },
            });
            await talker.echo(`join ${i}`);
          }
          // A route with an option of its own gets a backend of its own: a reload.
          await runContainer("dg-ws-reload", {
            network: net.name,
            labels: {
              glue_http_80_host: "reload.example.com",
              glue_http_80_compress: "1",
            },
          });
          await waitForBody(
            port,
            "reload.example.com",
            "/whoami",
            "dg-ws-reload /",
          );
          const workerAfter = await currentWorker();
          assertTrue(
            workerBefore !== undefined && workerAfter !== workerBefore,
            `a new worker after the reload (before ${workerBefore}, after ${workerAfter})`,
          );
          await talker.echo("after the reload");
          await removeContainers(
            ...Array.from({ length: 20 }, (_, i) => `dg-ws-other-${i}`),
          );
          await talker.echo("after they left");
        },
      );

      await t.step(
        "the idle one is still open after 90 s, through the old worker",
        async () => {
          const left = opened + 90_000 - Date.now();
          assertEquals(await idle!.ended(Math.max(0, left)), false);
          await idle!.echo("still here");
        },
      );

      await t.step(
        "both close soon after their container stops (it ignores SIGTERM: killed after 2 s)",
        async () => {
          const stopped = Date.now();
          const stop = new Deno.Command("docker", {
            args: ["stop", "-t", "2", "dg-ws"],
            stdout: "null",
            stderr: "null",
          }).output();
          const [a, b] = await Promise.all([
            idle!.ended(15_000),
            talker.ended(15_000),
          ]);
          await stop;
          assertTrue(a && b, `closed: idle ${a}, talker ${b}`);
          const slowest = Math.max(idle!.closedAt!, talker.closedAt!) - stopped;
          assertTrue(slowest < 6000, `closed ${slowest} ms after docker stop`);
        },
      );
    }),
});
