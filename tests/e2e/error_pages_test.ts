/**
 * Error pages through a real HAProxy (issue 33): a host no route serves is
 * 404, with the operator's page; a host whose only container is stopped,
 * and then removed, is 503 with the operator's page (a site down, not a
 * missing one); a server that answers nothing is 502 with its page. A page
 * HAProxy could not send stops the start with one line naming it.
 */

import {
  assertEquals,
  assertIncludes,
  assertTrue,
} from "../_fixtures/assert.ts";
import {
  docker,
  httpGet,
  managedBalancer,
  runBalancer,
  runScriptServer,
  startManaged,
  testHaproxyDir,
  waitFor,
  waitForStatus,
} from "./_harness.ts";
import { withCleanup } from "../_fixtures/cleanup.ts";

const HOST = "ep.example.com";
const MUTE = "ep-mute.example.com";
const PAGES: Record<string, string> = {
  "404": "<h1>No such site here</h1>",
  "502": "<h1>The application failed</h1>",
  "503": "<h1>Back in a moment</h1>",
};

// A server that reads the request and answers nothing.
const MUTE_SERVER = `read_head
`;

Deno.test({
  name:
    "e2e error pages: a host no route serves is 404, one whose only container stopped (and was then removed) is 503, a server answering nothing is 502, each with the operator's page; an oversized page stops the start naming it",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: (t) =>
    withCleanup(async (cleanup) => {
      const pagesDir = await testHaproxyDir(cleanup);
      const errors = `${pagesDir.path}/errors`;
      await Deno.mkdir(errors);
      for (const [status, text] of Object.entries(PAGES)) {
        await Deno.writeTextFile(`${errors}/${status}.html`, text);
      }
      const { net, balancer, port, args } = await startManaged(
        cleanup,
        "docker-glue-test-errpages",
        ["--error-pages", errors],
      );
      await runScriptServer(
        cleanup,
        "dg-ep-web",
        {
          network: net.name,
          labels: { glue_http_80_host: HOST },
        },
        `read_head
printf 'HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\nConnection: close\\r\\n\\r\\nok'
`,
      );
      await runScriptServer(cleanup, "dg-ep-mute", {
        network: net.name,
        labels: { glue_http_80_host: MUTE },
      }, MUTE_SERVER);
      await waitForStatus(port, HOST, "/", 200);

      await t.step(
        "a host no route serves: 404, the operator's page",
        async () => {
          const res = await httpGet(port, "nobody.example.com", "/");
          assertEquals(res.status, 404);
          assertEquals(res.body, PAGES["404"]);
        },
      );

      await t.step("a server that answers nothing: 502, its page", async () => {
        const res = await waitFor(
          "the mute route",
          async () => {
            const res = await httpGet(port, MUTE, "/");
            return res.status === 502 ? res : undefined;
          },
          20_000,
          100,
        );
        assertEquals(res.body, PAGES["502"]);
      });

      await t.step(
        "its only container stopped, then removed: 503, the operator's page",
        async () => {
          await docker("stop", "-t", "1", "dg-ep-web");
          const stopped = await waitFor(
            "the route gone",
            async () => {
              const res = await httpGet(port, HOST, "/");
              return res.status === 200 ? undefined : res;
            },
            20_000,
            100,
          );
          assertEquals(stopped.status, 503);
          assertEquals(stopped.body, PAGES["503"]);
          await docker("rm", "dg-ep-web");
          // Removed a moment ago: still a site down, not a missing one.
          const removed = await httpGet(port, HOST, "/");
          assertEquals(removed.status, 503);
          assertEquals(removed.body, PAGES["503"]);
          // No reload for any of it: the runtime API told HAProxy.
          assertEquals(balancer.count(/Reloaded HAProxy/), 0);
        },
      );

      await t.step(
        "docker-balancer restarted: the host gone lately is still 503",
        async () => {
          await balancer.stop();
          await managedBalancer(cleanup, ["--error-pages", errors, ...args]);
          await waitForStatus(port, MUTE, "/", 502);
          const res = await httpGet(port, HOST, "/");
          assertEquals([res.status, res.body], [503, PAGES["503"]]);
          assertEquals(
            (await httpGet(port, "nobody.example.com", "/")).status,
            404,
          );
        },
      );

      await t.step(
        "a page HAProxy cannot send stops the start, naming the file",
        async () => {
          await Deno.writeTextFile(`${errors}/504.html`, "x".repeat(13_000));
          const other = await testHaproxyDir(cleanup);
          const run = await runBalancer([
            "-1",
            "--haproxy",
            "external",
            "--error-pages",
            errors,
            ...other.listenArgs(1),
          ]);
          assertTrue(run.code !== 0, run.stderr);
          assertIncludes(run.stderr, `${errors}: 504.html has 13000 bytes`);
          assertEquals(run.stderr.trim().split("\n").length, 1, run.stderr);
        },
      );
    }),
});
