/**
 * The client's address through a real HAProxy (issue 33), with
 * `--trusted-proxies 127.0.0.1/32,10.9.0.0/16 --proxy-protocol`: a PROXY
 * header (v1 and v2, written here: curl cannot choose the address it
 * sends) from the trusted test client sets the address the container and
 * `allow` see; a trusted proxy's `X-Forwarded-For` is read back to the
 * rightmost untrusted address. From a container on the test network
 * (untrusted), a PROXY header is not believed and its own
 * `X-Forwarded-For` does not reach the container as sent.
 */

import {
  assertEquals,
  assertIncludes,
  assertTrue,
} from "../_fixtures/assert.ts";
import {
  docker,
  IMAGE,
  runScriptServer,
  startManaged,
  waitFor,
} from "./_harness.ts";
import { withCleanup } from "../_fixtures/cleanup.ts";

const ECHO = "echo.example.com";
const GUARDED = "guarded.example.com";

// Answers with the request's head, so the test sees the headers the
// container got.
const SERVER = `read_head
printf 'HTTP/1.1 200 OK\\r\\nContent-Type: text/plain\\r\\nContent-Length: %s\\r\\nConnection: close\\r\\n\\r\\n%s' "\${#head}" "$head"
`;

/** A PROXY v2 header for a TCP over IPv4 connection from `source`. */
function proxyV2(source: string, port: number): Uint8Array {
  const ip = (text: string) => text.split(".").map(Number);
  return new Uint8Array([
    0x0d,
    0x0a,
    0x0d,
    0x0a,
    0x00,
    0x0d,
    0x0a,
    0x51,
    0x55,
    0x49,
    0x54,
    0x0a,
    0x21, // version 2, PROXY
    0x11, // TCP over IPv4
    0x00,
    12,
    ...ip(source),
    127,
    0,
    0,
    1,
    0xd0,
    0x00, // source port 53248
    port >> 8,
    port & 0xff,
  ]);
}

/** Sends `bytes` to HAProxy from this host and reads until it closes. */
async function exchange(port: number, bytes: Uint8Array): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const timer = setTimeout(() => conn.close(), 3000);
  try {
    await conn.write(bytes);
    const chunks: Uint8Array[] = [];
    const buffer = new Uint8Array(16384);
    while (true) {
      const n = await conn.read(buffer).catch(() => null);
      if (n === null) break;
      chunks.push(buffer.slice(0, n));
    }
    return new TextDecoder().decode(
      new Uint8Array(chunks.flatMap((c) => [...c])),
    );
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // closed by the timer or the peer
    }
  }
}

const text = (s: string) => new TextEncoder().encode(s);

function request(host: string, headers = ""): string {
  return `GET / HTTP/1.0\r\nHost: ${host}\r\n${headers}\r\n`;
}

/** What the container was sent as `name`, lower-cased; "" when absent. */
function header(response: string, name: string): string {
  const line = response.toLowerCase().split("\n").find((l) =>
    l.startsWith(`${name}:`)
  );
  return line?.slice(name.length + 1).trim() ?? "";
}

Deno.test({
  name:
    "e2e client address: a PROXY header (v1, v2) from a trusted proxy sets the address the container and allow see, and its X-Forwarded-For is read to the rightmost untrusted address; from anyone else neither is believed",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: (t) =>
    withCleanup(async (cleanup) => {
      const { net, port, gateway } = await startManaged(
        cleanup,
        "docker-glue-test-client",
        [
          "--trusted-proxies",
          "127.0.0.1/32,10.9.0.0/16",
          "--proxy-protocol",
        ],
        true,
      );
      await runScriptServer(cleanup, "dg-ca-echo", {
        network: net.name,
        labels: { glue_http_80_host: ECHO },
      }, SERVER);
      await runScriptServer(cleanup, "dg-ca-guarded", {
        network: net.name,
        labels: {
          glue_http_80_host: GUARDED,
          glue_http_80_allow: "203.0.113.0/24",
        },
      }, SERVER);
      const v1 = (source: string, host: string, headers = "") =>
        exchange(
          port,
          text(
            `PROXY TCP4 ${source} 127.0.0.1 53248 ${port}\r\n` +
              request(host, headers),
          ),
        );
      await waitFor(
        "both routes to answer",
        async () =>
          (await v1("203.0.113.7", ECHO)).startsWith("HTTP/1.1 200") &&
            (await v1("203.0.113.7", GUARDED)).startsWith("HTTP/1.1 200")
            ? true
            : undefined,
        20_000,
        100,
      );

      await t.step("PROXY v1 and v2 from the trusted client", async () => {
        const one = await v1("203.0.113.7", ECHO);
        assertEquals(header(one, "x-real-ip"), "203.0.113.7", one);
        assertEquals(header(one, "x-forwarded-for"), "203.0.113.7", one);
        const two = await exchange(
          port,
          new Uint8Array([
            ...proxyV2("203.0.113.8", port),
            ...text(request(ECHO)),
          ]),
        );
        assertEquals(header(two, "x-real-ip"), "203.0.113.8", two);
        // allow sees the address of the header, not the connection's.
        const inside = await exchange(
          port,
          new Uint8Array([
            ...proxyV2("203.0.113.9", port),
            ...text(request(GUARDED)),
          ]),
        );
        assertTrue(inside.startsWith("HTTP/1.1 200"), inside);
        const outside = await v1("198.51.100.1", GUARDED);
        assertTrue(outside.startsWith("HTTP/1.1 403"), outside);
      });

      await t.step(
        "a trusted proxy without a PROXY header is refused",
        async () => {
          const bare = await exchange(port, text(request(ECHO)));
          assertTrue(!bare.startsWith("HTTP/1.1 200"), bare);
        },
      );

      await t.step(
        "X-Forwarded-For from a trusted proxy: the rightmost address not trusted is the client",
        async () => {
          // A proxy inside 10.9.0.0/16 says it got the request from
          // 10.9.0.6, which got it from 203.0.113.20.
          const chain = await v1(
            "10.9.0.5",
            GUARDED,
            "X-Forwarded-For: 192.0.2.99, 203.0.113.20, 10.9.0.6\r\n",
          );
          assertTrue(chain.startsWith("HTTP/1.1 200"), chain);
          assertEquals(header(chain, "x-real-ip"), "203.0.113.20", chain);
          // An untrusted client's own X-Forwarded-For is dropped.
          const forged = await v1(
            "198.51.100.2",
            ECHO,
            "X-Forwarded-For: 203.0.113.50\r\n",
          );
          assertEquals(header(forged, "x-real-ip"), "198.51.100.2", forged);
          assertEquals(
            header(forged, "x-forwarded-for"),
            "198.51.100.2",
            forged,
          );
        },
      );

      await t.step(
        "from a container (untrusted): a PROXY header is not believed, nor its X-Forwarded-For",
        async () => {
          const from = async (payload: string) =>
            await docker(
              "run",
              "--rm",
              "--network",
              net.name,
              "-l",
              "docker-glue-test=1",
              IMAGE,
              "sh",
              "-c",
              `printf '${payload}' | busybox nc ${gateway} ${port}`,
            );
          const spoofed = await from(
            `PROXY TCP4 203.0.113.7 127.0.0.1 53248 ${port}\\r\\n` +
              `GET / HTTP/1.0\\r\\nHost: ${GUARDED}\\r\\n\\r\\n`,
          );
          assertTrue(!spoofed.includes("HTTP/1.1 200"), spoofed);
          const forged = await from(
            `GET / HTTP/1.0\\r\\nHost: ${ECHO}\\r\\nX-Forwarded-For: 203.0.113.50\\r\\n\\r\\n`,
          );
          const real = header(forged, "x-real-ip");
          assertTrue(real !== "" && real !== "203.0.113.50", forged);
          assertEquals(header(forged, "x-forwarded-for"), real);
          assertIncludes(forged, "HTTP/1.1 200");
        },
      );
    }),
});
