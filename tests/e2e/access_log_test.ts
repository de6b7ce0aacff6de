/**
 * The JSON access log through a real HAProxy (issue 33): every request is
 * one line that parses as JSON, names the container that answered (not a
 * pool slot) and carries the request id the container was sent; a client's
 * own X-Request-ID is not believed; a TCP connection is one line too; the
 * file is opened again on SIGUSR1, as log rotation asks. Run with the
 * compiled permissions, so the file's directory is one they allow.
 */

import { assertEquals, assertTrue } from "../_fixtures/assert.ts";
import {
  freePort,
  httpGet,
  parseResponse,
  runScriptServer,
  startManaged,
  tcpExchange,
  waitFor,
  waitForStatus,
} from "./_harness.ts";
import { withCleanup } from "../_fixtures/cleanup.ts";
import { ACCESS_LOG_DIR } from "../../lib/permissions.ts";

const HOST = "al.example.com";

// Answers with the request's head: the test reads the id the container got.
const SERVER = `read_head
printf 'HTTP/1.1 200 OK\\r\\nContent-Type: text/plain\\r\\nContent-Length: %s\\r\\nConnection: close\\r\\n\\r\\n%s' "\${#head}" "$head"
`;

/** The log's lines so far, each parsed. */
async function entries(file: string): Promise<Record<string, unknown>[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  return text.split("\n").filter((line) => line !== "").map((line) =>
    JSON.parse(line)
  );
}

/** Waits until the file has `count` lines, and returns them. */
function linesOf(
  file: string,
  count: number,
): Promise<Record<string, unknown>[]> {
  return waitFor(
    `${count} lines in ${file}`,
    async () => {
      const all = await entries(file);
      return all.length >= count ? all : undefined;
    },
    10_000,
    50,
  );
}

Deno.test({
  name:
    "e2e access log: 100 requests are 100 JSON lines naming the container and the request id it was sent; a TCP connection is one line; SIGUSR1 opens the file again",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: (t) =>
    withCleanup(async (cleanup) => {
      const file = `${ACCESS_LOG_DIR}/test-${Deno.pid}-${Date.now()}.log`;
      // docker-balancer makes the directory when it first writes there.
      const dirExisted = await Deno.stat(ACCESS_LOG_DIR).then(
        () => true,
        () => false,
      );
      cleanup.defer("access log files", async () => {
        for (const path of [file, `${file}.1`]) {
          await Deno.remove(path).catch(() => {});
        }
        if (!dirExisted) await Deno.remove(ACCESS_LOG_DIR).catch(() => {});
      });
      const listen = freePort();
      const { net, balancer, port } = await startManaged(
        cleanup,
        "docker-glue-test-access",
        ["--access-log", file, "--tcp-bind-address", "127.0.0.1"],
      );
      await runScriptServer(cleanup, "dg-al-echo", {
        network: net.name,
        labels: { glue_http_80_host: HOST },
      }, SERVER);
      await runScriptServer(cleanup, "dg-al-tcp", {
        network: net.name,
        labels: { glue_tcp_ports: "80", glue_tcp_80_listen: String(listen) },
      }, SERVER);
      await waitFor(
        "the routes",
        async () => {
          const res = await httpGet(port, HOST, "/");
          return res.status === 200 &&
              (await tcpExchange(listen, "GET / HTTP/1.0\r\n\r\n", 1000))
                .startsWith("HTTP/1.1 200")
            ? true
            : undefined;
        },
        20_000,
        100,
      );
      // What the waits above logged is not part of the count: everything
      // up to a last request of the test's own.
      await httpGet(port, HOST, "/ready");
      const before = await waitFor(
        "the last request before",
        async () => {
          const all = await entries(file);
          const at = all.findIndex((line) => line.path === "/ready");
          return at < 0 ? undefined : at + 1;
        },
        10_000,
        50,
      );

      await t.step(
        "100 requests: 100 lines with the container and its request id",
        async () => {
          const seen: string[] = [];
          for (let i = 0; i < 100; i++) {
            // A client's own id is replaced: it trusts no one here.
            const res = parseResponse(
              await tcpExchange(
                port,
                `GET /item/${i}?q=a%22b HTTP/1.0\r\nHost: ${HOST}\r\n${
                  i === 0 ? "X-Request-ID: chosen-by-client\r\n" : ""
                }\r\n`,
              ),
            );
            assertEquals(res.status, 200);
            const id = /^X-Request-ID: (.+)$/im.exec(res.body)?.[1];
            assertTrue(id !== undefined, res.body);
            seen.push(id!);
          }
          assertTrue(seen[0] !== "chosen-by-client", "the client's own id");
          const lines = (await linesOf(file, before + 100)).slice(before);
          assertEquals(lines.length, 100);
          lines.forEach((line, i) => {
            assertEquals(line.container, "dg-al-echo");
            assertEquals(line.request_id, seen[i]);
            assertEquals(line.path, `/item/${i}?q=a%22b`);
            assertEquals(line.host, HOST);
            assertEquals(line.method, "GET");
            assertEquals(line.status, 200);
            assertEquals(line.route, HOST);
            assertEquals(line.client, "127.0.0.1");
            assertEquals(line.termination, "----");
            const { total, connect } = line.timers as Record<string, number>;
            assertTrue(total! >= 0 && connect! >= 0, JSON.stringify(line));
            assertTrue((line.bytes_out as number) > 0);
          });
          assertEquals(new Set(seen).size, 100);
        },
      );

      await t.step("a TCP connection is one line", async () => {
        const count = (await entries(file)).length;
        const conn = await Deno.connect({
          hostname: "127.0.0.1",
          port: listen,
        });
        await conn.write(
          new TextEncoder().encode("GET /tcp HTTP/1.0\r\nHost: x\r\n\r\n"),
        );
        const buffer = new Uint8Array(4096);
        while ((await conn.read(buffer)) !== null) { /* until closed */ }
        conn.close();
        const line = (await linesOf(file, count + 1))[count]!;
        assertEquals(line.container, "dg-al-tcp");
        assertEquals(line.listener, listen);
        assertEquals(line.route, String(listen));
        assertTrue((line.bytes_in as number) > 0, JSON.stringify(line));
      });

      await t.step(
        "after the file is moved away, SIGUSR1 opens a new one",
        async () => {
          const count = (await entries(file)).length;
          await Deno.rename(file, `${file}.1`);
          balancer.kill("SIGUSR1");
          // The signal is handled in turn with what is already read.
          await waitFor(
            "the file again",
            async () => {
              await httpGet(port, HOST, "/rotated");
              return (await entries(file)).length > 0 ? true : undefined;
            },
            10_000,
            100,
          );
          const fresh = await entries(file);
          assertTrue(
            fresh.every((line) => line.path === "/rotated"),
            JSON.stringify(fresh),
          );
          assertEquals((await entries(`${file}.1`)).length >= count, true);
          assertEquals(balancer.exited, false);
        },
      );
    }),
});

Deno.test({
  name:
    "e2e access log: with stdout, the lines are docker-balancer's standard output, apart from its own log",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withCleanup(async (cleanup) => {
      const { net, balancer, port } = await startManaged(
        cleanup,
        "docker-glue-test-access-stdout",
        ["--access-log", "stdout"],
      );
      await runScriptServer(cleanup, "dg-al-stdout", {
        network: net.name,
        labels: { glue_http_80_host: HOST },
      }, SERVER);
      await waitForStatus(port, HOST, "/", 200);
      await httpGet(port, HOST, "/on-stdout");
      const line = await waitFor(
        "the request's line",
        () =>
          Promise.resolve(
            balancer.stdout.map((text) => JSON.parse(text)).find((entry) =>
              entry.path === "/on-stdout"
            ),
          ),
        10_000,
        50,
      );
      assertEquals(line.container, "dg-al-stdout");
      assertEquals(line.status, 200);
      // Every line there is the access log's; ours are on standard error.
      assertTrue(balancer.stdout.every((text) => text.startsWith("{")));
      assertTrue(balancer.lines.some((text) => /Started HAProxy/.test(text)));
    }),
});
