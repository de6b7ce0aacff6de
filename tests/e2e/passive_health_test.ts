/**
 * Passive health through a real HAProxy (issue 33): a container that
 * answers 500, while its twin answers 200, is taken out by those answers
 * after `error_limit` errors in a row (its clients see those), with HAProxy's line in our log and
 * `down` in `routes`; it comes back once it answers 200 again. Without the
 * label, the same container stays in: its checks only connect.
 */

import {
  assertEquals,
  assertIncludes,
  assertTrue,
} from "../_fixtures/assert.ts";
import {
  httpGet,
  readRoutes,
  runScriptServer,
  startManaged,
  waitFor,
} from "./_harness.ts";
import { type Cleanup, withCleanup } from "../_fixtures/cleanup.ts";

const HOST = "ph.example.com";
const CONTROL = "ph-control.example.com";

// Run for each connection: answers every path, the health
// check's too, with the status in /srv/status and the container's name.
const SERVER = `read_head
status=$(busybox cat /srv/status)
body="$NAME $status"
printf 'HTTP/1.1 %s Status\\r\\nContent-Type: text/plain\\r\\nContent-Length: %s\\r\\nConnection: close\\r\\n\\r\\n%s' "$status" "\${#body}" "$body"
`;

/** Starts a container answering with the status its file holds; returns the file. */
async function statusServer(
  cleanup: Cleanup,
  network: string,
  name: string,
  status: number,
  labels: Record<string, string>,
): Promise<string> {
  const dir = await runScriptServer(
    cleanup,
    name,
    { network, labels },
    SERVER,
    {
      status: String(status),
    },
  );
  return `${dir}/status`;
}

/** The state `routes` reports for a container's server. */
async function stateOf(args: string[], container: string): Promise<string> {
  const report = await readRoutes(args);
  for (const route of report.routes) {
    for (const server of route.servers) {
      if (server.container === container) return server.state;
    }
  }
  return "absent";
}

Deno.test({
  name:
    "e2e passive health: a container answering 500 is taken out by its answers after error_limit errors while its twin serves, and back once it answers 200; without the label and an HTTP check it stays in",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: (t) =>
    withCleanup(async (cleanup) => {
      const { net, balancer, port, args } = await startManaged(
        cleanup,
        "docker-glue-test-passive",
      );
      const labels = {
        glue_http_80_host: HOST,
        glue_http_80_check: "/healthz",
        glue_http_80_error_limit: "3",
      };
      await statusServer(cleanup, net.name, "dg-ph-good", 200, labels);
      // It answers well until both are up, then fails.
      const bad = await statusServer(
        cleanup,
        net.name,
        "dg-ph-bad",
        200,
        labels,
      );
      // No check path: its checks only connect.
      await statusServer(cleanup, net.name, "dg-ph-control", 500, {
        glue_http_80_host: CONTROL,
      });
      await waitFor(
        "both servers of the route up",
        async () =>
          (await stateOf(args, "dg-ph-good")) === "up" &&
            (await stateOf(args, "dg-ph-bad")) === "up"
            ? true
            : undefined,
        20_000,
        200,
      );

      await t.step(
        "the failing one goes after 3 errors; then only its twin answers",
        async () => {
          await Deno.writeTextFile(bad, "500");
          const bodies: string[] = [];
          for (let i = 0; i < 20; i++) {
            const res = await httpGet(port, HOST, "/");
            bodies.push(`${res.status} ${res.body}`);
          }
          // Round robin: the 3 errors are among the first 6 answers; after
          // them only the twin answers.
          const errors = bodies.filter((b) => b.startsWith("500"));
          assertEquals(errors.length, 3, bodies.join(", "));
          assertEquals(
            [...new Set(bodies.slice(6))],
            ["200 dg-ph-good 200"],
            bodies.join(", "),
          );
          // Taken out by the answers it gave (HAProxy's "Health analyze"),
          // well before its health check, a second apart, fails twice.
          const down = await balancer.waitForLine(
            /dg-ph-bad:80 is DOWN/,
            10_000,
          );
          assertIncludes(down, "Health analyze");
          assertEquals(await stateOf(args, "dg-ph-bad"), "down");
          assertEquals(await stateOf(args, "dg-ph-good"), "up");
        },
      );

      await t.step(
        "without the label, a container answering 500 stays in",
        async () => {
          for (let i = 0; i < 10; i++) {
            assertEquals((await httpGet(port, CONTROL, "/")).status, 500);
          }
          assertEquals(await stateOf(args, "dg-ph-control"), "up");
        },
      );

      await t.step(
        "once it answers 200 it is back within seconds, and stays",
        async () => {
          await Deno.writeTextFile(bad, "200");
          const written = Date.now();
          const seen = new Set<string>();
          await waitFor(
            "requests reaching both containers again",
            async () => {
              seen.add((await httpGet(port, HOST, "/")).body);
              return seen.size === 2 ? true : undefined;
            },
            15_000,
            50,
          );
          const back = Date.now() - written;
          const downs = balancer.count(/dg-ph-bad:80 is DOWN/);
          const bodies: string[] = [];
          for (let i = 0; i < 30; i++) {
            const res = await httpGet(port, HOST, "/");
            bodies.push(`${res.status} ${res.body}`);
          }
          assertEquals(
            [...new Set(bodies)].sort(),
            ["200 dg-ph-bad 200", "200 dg-ph-good 200"],
          );
          assertEquals(balancer.count(/dg-ph-bad:80 is DOWN/), downs);
          assertEquals(await stateOf(args, "dg-ph-bad"), "up");
          // Back after two passing checks.
          assertTrue(back < 5_000, `back ${back} ms after answering 200`);
        },
      );
    }),
});
