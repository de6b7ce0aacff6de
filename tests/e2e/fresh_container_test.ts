/**
 * A container whose server listens only a while after it started (issue 33
 * point 6): a request sent as soon as its route is there is answered as soon
 * as the server listens, not a second later (HAProxy's retry turn-around);
 * one for a container that never listens gives up after the wait, 503, and
 * HAProxy goes on serving the others.
 */

import { assertEquals, assertTrue } from "../_fixtures/assert.ts";
import {
  docker,
  httpGet,
  runContainer,
  runScriptServer,
  startManaged,
  waitForStatus,
} from "./_harness.ts";
import { withCleanup } from "../_fixtures/cleanup.ts";

// The server listens this long after the container started: before its
// first health check, a second after it is added, would take it out.
const LATE_S = 0.5;

/** A container that serves /whoami only `delay` seconds after it starts. */
function lateServer(delay: number): string[] {
  return [
    "sh",
    "-c",
    `mkdir -p /www && echo "$NAME /" > /www/whoami && sleep ${delay} && exec httpd -f -p 80 -h /www`,
  ];
}

Deno.test({
  name:
    "e2e fresh container: a request sent as its route appears is answered once the server listens, not a second later; one that never listens gives up after the wait",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: (t) =>
    withCleanup(async (cleanup) => {
      const { net, balancer, port } = await startManaged(
        cleanup,
        "docker-glue-test-fresh",
      );
      await runContainer("dg-fresh-other", {
        network: net.name,
        labels: { glue_http_80_host: "other.example.com" },
      });
      await waitForStatus(port, "other.example.com", "/whoami", 200);

      await t.step(
        "held until it listens, then answered at once",
        async () => {
          const ran = performance.now();
          await runContainer("dg-fresh-late", {
            network: net.name,
            labels: { glue_http_80_host: "late.example.com" },
            command: lateServer(LATE_S),
          });
          const returned = performance.now();
          await balancer.waitForLine(/Container dg-fresh-late: routed/);
          const sent = performance.now();
          const res = await httpGet(port, "late.example.com", "/whoami", 5000);
          const answered = performance.now();
          assertEquals([res.status, res.body], [200, "dg-fresh-late /"]);
          console.log(
            `docker run ${Math.round(returned - ran)} ms; sent ${
              Math.round(sent - returned)
            } ms after it returned; answered ${
              Math.round(answered - sent)
            } ms later (server listens ${LATE_S * 1000} ms after the start)`,
          );
          // Held: it cannot be answered before the server listens.
          assertTrue(answered - ran >= LATE_S * 1000, "answered too soon");
          // Without the hold it waits for HAProxy's retry a second after it
          // was refused: answered over 1 s after docker run returned.
          assertTrue(
            answered - returned < LATE_S * 1000 + 250,
            `answered ${Math.round(answered - returned)} ms after docker run`,
          );
        },
      );

      await t.step(
        "10 requests held at once: the container is tried for them all, not by each",
        async () => {
          // Each connection is counted; one with a request is answered.
          await runScriptServer(
            cleanup,
            "dg-fresh-count",
            {
              network: net.name,
              labels: { glue_http_80_host: "count.example.com" },
              listenAfter: 0.5,
            },
            `echo . >> /tmp/connections
read_head
[ -z "$head" ] && exit 0
printf 'HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\nConnection: close\\r\\n\\r\\nok'
`,
          );
          await balancer.waitForLine(/Container dg-fresh-count: routed/);
          const answers = await Promise.all(
            Array.from(
              // More at once overflow the listen queue of busybox nc.
              { length: 10 },
              () => httpGet(port, "count.example.com", "/", 5000),
            ),
          );
          assertEquals(answers.filter((res) => res.status === 200).length, 10);
          const connections = (await docker(
            "exec",
            "dg-fresh-count",
            "cat",
            "/tmp/connections",
          )).trim().split("\n").length;
          console.log(`10 held requests: ${connections} connections`);
          // The requests, and the few tries that found it listening; each
          // request trying for itself would add one at least for each.
          assertTrue(
            connections >= 10 && connections <= 13,
            `${connections} connections`,
          );
        },
      );

      await t.step(
        "a server that never listens: 503 after the wait, the others served meanwhile",
        async () => {
          await runContainer("dg-fresh-mute", {
            network: net.name,
            labels: { glue_http_80_host: "mute.example.com" },
            command: ["sleep", "60"],
          });
          await balancer.waitForLine(/Container dg-fresh-mute: routed/);
          const sent = performance.now();
          const held = httpGet(port, "mute.example.com", "/whoami", 10_000);
          const other = await httpGet(port, "other.example.com", "/whoami");
          assertEquals(other.status, 200);
          const res = await held;
          const took = performance.now() - sent;
          assertEquals(res.status, 503);
          // The 3 s wait, then HAProxy's own retries.
          assertTrue(
            took >= 3000 && took < 8000,
            `took ${Math.round(took)} ms`,
          );
        },
      );
    }),
});
