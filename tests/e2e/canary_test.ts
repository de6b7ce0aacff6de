/**
 * Canaries by header or cookie (issue 34 point 2) through a real HAProxy:
 * the requests that carry the match reach the containers labelled with it,
 * and only those; the rest never do; a second canary joins without a
 * reload; with no canary up, the testers' requests go to the rest.
 */

import { assertEquals } from "../_fixtures/assert.ts";
import {
  docker,
  masterReloads,
  parseResponse,
  readRoutes,
  runContainer,
  startManaged,
  tcpExchange,
  waitFor,
} from "./_harness.ts";
import { withCleanup } from "../_fixtures/cleanup.ts";

/** Who answered /whoami on app.example.com, for a request with `headers`. */
async function who(port: number, headers = ""): Promise<string> {
  const res = parseResponse(
    await tcpExchange(
      port,
      `GET /whoami HTTP/1.0\r\nHost: app.example.com\r\n${headers}Connection: close\r\n\r\n`,
    ),
  );
  return res.status === 200 ? res.body.replace(/ \/$/, "") : `${res.status}`;
}

/** Polls until `probe` is true (waitFor takes any other value than undefined). */
function until(what: string, probe: () => Promise<boolean>): Promise<true> {
  return waitFor(what, async () => (await probe()) || undefined, 10_000);
}

/** Who answered each of `count` requests, and how many times. */
async function answers(
  port: number,
  headers: string,
  count = 100,
): Promise<Record<string, number>> {
  const seen: Record<string, number> = {};
  for (let i = 0; i < count; i++) {
    const name = await who(port, headers);
    seen[name] = (seen[name] ?? 0) + 1;
  }
  return seen;
}

const HEADER = "X-Canary: 1\r\n";
const COOKIE = "Cookie: theme=dark; canary=1\r\n";

Deno.test({
  name:
    "e2e canary: requests with the header or cookie reach only the containers labelled with it, the rest never do; a second canary joins without a reload; none up sends testers to the rest",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: (t) =>
    withCleanup(async (cleanup) => {
      const { net, port, args } = await startManaged(
        cleanup,
        "docker-glue-test-canary",
      );
      const host = { glue_http_80_host: "app.example.com" };
      await runContainer("dg-canary-stable", {
        network: net.name,
        labels: host,
      });
      await runContainer("dg-canary-header", {
        network: net.name,
        labels: { ...host, glue_http_80_match: "header:X-Canary=1" },
      });
      await runContainer("dg-canary-cookie", {
        network: net.name,
        labels: {
          ...host,
          glue_http_80_match: "cookie:canary=1",
          // A canary's options are its own.
          glue_http_80_timeout: "5s",
        },
      });
      await until(
        "both canaries routed",
        async () =>
          await who(port, HEADER) === "dg-canary-header" &&
          await who(port, COOKIE) === "dg-canary-cookie",
      );

      await t.step(
        "100 with the header all reach its canary; 100 without never do",
        async () => {
          assertEquals(await answers(port, HEADER), {
            "dg-canary-header": 100,
          });
          assertEquals(await answers(port, ""), { "dg-canary-stable": 100 });
          // Another value is not the match.
          assertEquals(await answers(port, "X-Canary: 2\r\n", 20), {
            "dg-canary-stable": 20,
          });
        },
      );

      await t.step(
        "routes shows each match and the canary's own options",
        async () => {
          const report = await readRoutes(args);
          const options = report.routes.filter((r) =>
            r.host === "app.example.com"
          )
            .map((r) => r.options.join(" "));
          assertEquals(options.sort(), [
            "",
            "match=cookie:canary=1 timeout=5s",
            "match=header:X-Canary=1",
          ]);
        },
      );

      await t.step("the same with the cookie", async () => {
        assertEquals(await answers(port, COOKIE), { "dg-canary-cookie": 100 });
        assertEquals(await answers(port, "Cookie: canary=0\r\n", 20), {
          "dg-canary-stable": 20,
        });
      });

      await t.step(
        "a second canary joins through the runtime API",
        async () => {
          const before = await masterReloads();
          await runContainer("dg-canary-header2", {
            network: net.name,
            labels: { ...host, glue_http_80_match: "header:X-Canary=1" },
          });
          await until(
            "the second canary answering",
            async () => await who(port, HEADER) === "dg-canary-header2",
          );
          const seen = await answers(port, HEADER);
          assertEquals(Object.keys(seen).sort(), [
            "dg-canary-header",
            "dg-canary-header2",
          ]);
          assertEquals(await masterReloads(), before);
        },
      );

      await t.step(
        "no canary up: the header's requests go to the rest",
        async () => {
          await docker("kill", "dg-canary-header", "dg-canary-header2");
          await until(
            "the header's requests at the rest",
            async () => await who(port, HEADER) === "dg-canary-stable",
          );
          assertEquals(await answers(port, HEADER), {
            "dg-canary-stable": 100,
          });
          assertEquals(await answers(port, COOKIE, 20), {
            "dg-canary-cookie": 20,
          });
        },
      );
    }),
});
