/**
 * The status page in a real browser: Debian's chromium, headless, loads
 * `GET /` from a running balancer and the rendered page shows a routed
 * container's host with HAProxy's state, and an unrouted container with
 * its reason; after the routed container stops, the next load shows it
 * gone. The page has no script.
 */

import {
  assertExcludes,
  assertIncludes,
  assertTrue,
} from "../_fixtures/assert.ts";
import { withCleanup } from "../_fixtures/cleanup.ts";
import {
  docker,
  ignoreWithout,
  runContainer,
  startManaged,
  testTempDir,
  waitFor,
  waitForBody,
} from "./_harness.ts";
import { METRICS_LISTEN } from "../../lib/permissions.ts";

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = (() => {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
})();
const LISTEN = METRICS_LISTEN[1]!; // 127.0.0.1:9612

/** The page as chromium renders it (`--dump-dom`), or a screenshot of it. */
async function chromium(
  profile: string,
  ...args: string[]
): Promise<string> {
  const out = await new Deno.Command(CHROMIUM, {
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      // Without these it tries to reach Google's hosts at every start.
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      `--user-data-dir=${profile}`,
      ...args,
      `http://${LISTEN}/`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dom = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(
      `chromium exited ${out.code}: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return dom;
}

Deno.test({
  name:
    "e2e status page: chromium renders the routes with HAProxy's state and the unrouted containers with their reason",
  ignore: ignoreWithout(hasChromium),
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withCleanup(async (cleanup) => {
      const setup = await startManaged(cleanup, "docker-glue-test-status", [
        "--metrics-listen",
        LISTEN,
      ]);
      const profile = await testTempDir(cleanup, "docker-glue-chromium-");
      await runContainer("dg-status-a", {
        network: setup.net.name,
        labels: { glue_http_80_host: "status.example.com" },
      });
      await runContainer("dg-status-b", {
        network: setup.net.name,
        labels: { glue_http_80_host: "bad host!" },
      });
      await waitForBody(
        setup.port,
        "status.example.com",
        "/whoami",
        "dg-status-a /",
      );
      let dom = "";
      await waitFor("the page to show both containers", async () => {
        dom = await chromium(profile, "--dump-dom");
        return dom.includes("dg-status-b") ? true : undefined;
      }, 15000);
      assertIncludes(dom, "status.example.com/");
      assertTrue(
        /<span class="state up">up<\/span> dg-status-a/.test(dom),
        `no up server for dg-status-a in:\n${dom}`,
      );
      assertIncludes(dom, "<td>bad-label</td>");
      assertIncludes(dom, 'Invalid host "bad host!"');
      assertIncludes(dom, "Container dg-status-a: routed status.example.com/");
      assertIncludes(dom, '<meta http-equiv="refresh" content="5">');
      assertExcludes(dom, "<script");
      if (Deno.env.get("STATUS_SCREENSHOT")) {
        await chromium(
          profile,
          "--window-size=1100,760",
          `--screenshot=${Deno.env.get("STATUS_SCREENSHOT")}`,
        );
      }

      await docker("rm", "-f", "dg-status-a");
      await waitFor("the page to show the route gone", async () => {
        dom = await chromium(profile, "--dump-dom");
        return dom.includes("No routes") ? true : undefined;
      }, 15000);
      assertIncludes(
        dom,
        "Container dg-status-a: unrouted status.example.com/",
      );
    }),
});
