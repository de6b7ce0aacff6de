/**
 * Host aliases that redirect (issue 34 point 3) through a real HAProxy and
 * Pebble: a request for a `redirect_from` name gets a 308 to the route's
 * host with its path and query, over HTTP and over HTTPS, where the alias
 * has a certificate of its own from the ACME server; an alias that another
 * container already serves is reported and does not take it.
 */

import { assertEquals, assertIncludes } from "../_fixtures/assert.ts";
import {
  curl,
  managedBalancer,
  runContainer,
  waitFor,
  waitForStatus,
} from "./_harness.ts";
import { httpsGet, servedCert } from "./_tls.ts";
import { pebbleSetup } from "./_pebble.ts";
import { withCleanup } from "../_fixtures/cleanup.ts";

Deno.test({
  name:
    "e2e redirect_from: an alias gets a 308 to the host with path and query over HTTP and HTTPS, with a certificate of its own; an alias another container serves stays its",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: (t) =>
    withCleanup(async (cleanup) => {
      const { net, dir, http, https, pebble, root } = await pebbleSetup(
        cleanup,
        "docker-glue-test-alias",
        300,
      );
      const balancer = await managedBalancer(cleanup, [
        ...dir.listenArgs(http),
        ...dir.httpsArgs(https),
        ...(await pebble.balancerArgs(dir.path)),
      ]);
      // Older: it keeps taken.example.com, which the site also asks for.
      await runContainer("dg-alias-taken", {
        network: net.name,
        labels: { glue_http_80_host: "taken.example.com" },
      });
      await waitForStatus(http, "taken.example.com", "/whoami", 200);
      await runContainer("dg-alias-site", {
        network: net.name,
        labels: {
          glue_http_80_host: "site.example.com",
          glue_http_80_tls: "1",
          glue_http_80_redirect_from: "www.site.example.com,taken.example.com",
        },
      });
      await waitForStatus(http, "www.site.example.com", "/", 308);

      await t.step("HTTP: 308 to the host, path and query kept", async () => {
        const res = await curl(
          `http://127.0.0.1:${http}/a/b?x=1&y=2`,
          "-H",
          `Host: www.site.example.com:${http}`,
        );
        assertEquals(res.status, 308);
        assertIncludes(
          res.headers.toLowerCase(),
          `location: http://site.example.com:${http}/a/b?x=1&y=2`,
        );
        // Without a port in the Host header, none in the Location.
        const bare = await curl(
          `http://127.0.0.1:${http}/c?z=3`,
          "-H",
          "Host: www.site.example.com",
        );
        assertEquals(bare.status, 308);
        assertIncludes(
          bare.headers.toLowerCase(),
          "location: http://site.example.com/c?z=3",
        );
      });

      await t.step(
        "HTTPS: the alias has its own certificate and gets a 308",
        async () => {
          const res = await waitFor(
            "the alias over HTTPS",
            async () => {
              try {
                const r = await httpsGet(
                  https,
                  "www.site.example.com",
                  "/p?q=1",
                  [root],
                );
                return r.status === 308 ? r : undefined;
              } catch {
                return undefined;
              }
            },
            30_000,
            50,
          );
          assertEquals(
            res.headers["location"],
            `https://site.example.com/p?q=1`,
          );
          const cert = await servedCert(https, "www.site.example.com");
          assertIncludes(cert.names, "DNS:www.site.example.com");
          // The host itself is served, with its own certificate.
          const site = await waitFor(
            "the host over HTTPS",
            async () => {
              try {
                const r = await httpsGet(https, "site.example.com", "/whoami", [
                  root,
                ]);
                return r.status === 200 ? r : undefined;
              } catch {
                return undefined;
              }
            },
            30_000,
            50,
          );
          assertEquals(site.body, "dg-alias-site /");
        },
      );

      await t.step(
        "an alias another container serves is reported and stays its",
        async () => {
          const res = await curl(
            `http://127.0.0.1:${http}/whoami`,
            "-H",
            "Host: taken.example.com",
          );
          assertEquals([res.status, res.body.trim()], [
            200,
            "dg-alias-taken /",
          ]);
          assertEquals(
            balancer.lines.some((line) =>
              line.includes("dg-alias-site") &&
              line.includes("glue_http_80_redirect_from") &&
              line.includes("dg-alias-taken")
            ),
            true,
            balancer.lines.join("\n"),
          );
        },
      );
    }),
});
