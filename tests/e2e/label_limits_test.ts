/**
 * One container's labels cost only its own route (issue 31), through a
 * real HAProxy: a password hash too slow to check is refused, the costliest
 * accepted one survives a burst of wrong passwords with HAProxy running and
 * other hosts answering; prefixes that a character-for-character rewrite
 * would name alike, arriving one by one, are all routed; labels over the
 * size limits are refused; and after each, a good container is routed
 * within 1 s of `docker run` returning. The status page answers loopback
 * clients only and never shows a header label's value.
 */

import {
  assertEquals,
  assertExcludes,
  assertIncludes,
  assertTrue,
} from "../_fixtures/assert.ts";
import {
  docker,
  httpGet,
  IMAGE,
  masterProc,
  parseResponse,
  readRoutes,
  routedAfterRun,
  runContainer,
  startManaged,
  tcpExchange,
  testTempDir,
  waitForBody,
  waitForStatus,
} from "./_harness.ts";
import { withCleanup } from "../_fixtures/cleanup.ts";
import { MAX_HOSTS } from "../../lib/routing/route_limits.ts";
import { METRICS_PORT } from "../../lib/permissions.ts";

// yescrypt with N*r = 2^15, the costliest kind accepted (4 ms a check
// here); the password is "right".
const COSTLIEST =
  "$y$j7T$OeYN1.dL9f0D/Cc8AaOx0.$7800TYzYmmVSsG.hH10XnvpksB9N0zwVbKTaGC16iG5";
// 5,000,000 rounds of SHA-512: seconds a check, which took HAProxy down.
const TOO_SLOW = `$6$rounds=5000000$saltsalt$${"A".repeat(86)}`;

Deno.test({
  name:
    "e2e: hash cost, backend names and label sizes cost only the container at fault; the status page answers loopback clients only",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: (t) =>
    withCleanup(async (cleanup) => {
      const { net, balancer, port, args } = await startManaged(
        cleanup,
        "docker-glue-test-limits",
        ["--metrics-listen", `0.0.0.0:${METRICS_PORT}`],
      );
      const figures: string[] = [];

      const goodAfter = async (name: string, host: string) => {
        const ms = await routedAfterRun(net.name, port, name, host);
        figures.push(`${name}: routed ${ms.toFixed(0)} ms after docker run`);
      };

      await t.step(
        "a hash too slow to check is refused with one line; a good container is routed",
        async () => {
          await runContainer("dg-lim-slow", {
            network: net.name,
            labels: {
              glue_http_80_host: "slow.example.com",
              glue_http_80_auth: `alice:${TOO_SLOW}`,
            },
          });
          const line = await balancer.waitForLine(
            /Container dg-lim-slow: label glue_http_80_auth/,
          );
          assertIncludes(line, "5000000 rounds");
          assertIncludes(line, "openssl passwd -6");
          await goodAfter("dg-lim-good1", "good1.example.com");
          assertEquals(
            (await httpGet(port, "slow.example.com", "/")).status,
            404,
          );
        },
      );

      await t.step(
        "wrong passwords against the costliest accepted hash leave HAProxy running and other hosts answering",
        async () => {
          await runContainer("dg-lim-auth", {
            network: net.name,
            labels: {
              glue_http_80_host: "auth.example.com",
              glue_http_80_auth: `alice:${COSTLIEST}`,
            },
          });
          const request = (password: string) =>
            tcpExchange(
              port,
              `GET /whoami HTTP/1.0\r\nHost: auth.example.com\r\nAuthorization: Basic ${
                btoa(`alice:${password}`)
              }\r\nConnection: close\r\n\r\n`,
              10000,
            ).then(parseResponse);
          // Routed once it asks for the password.
          await waitForStatus(port, "auth.example.com", "/whoami", 401, 5000);
          const right = await request("right");
          assertEquals(right.body, "dg-lim-auth /");
          const before = await masterProc();
          // Two at once took HAProxy down at 5,000,000 rounds; forty here.
          const started = performance.now();
          const wrong = Promise.all(
            Array.from({ length: 40 }, (_, i) => request(`wrong${i}`)),
          );
          const others: number[] = [];
          for (let i = 0; i < 10; i++) {
            others.push(
              (await httpGet(port, "good1.example.com", "/whoami")).status,
            );
          }
          const answers = await wrong;
          figures.push(
            `40 wrong passwords against yescrypt 2^15 answered in ${
              (performance.now() - started).toFixed(0)
            } ms`,
          );
          assertEquals(new Set(answers.map((a) => a.status)), new Set([401]));
          assertEquals(new Set(others), new Set([200]));
          const after = await masterProc();
          assertEquals(after?.master, before?.master);
          assertEquals(
            after?.workers.map((w) => w.pid),
            before?.workers.map((w) => w.pid),
          );
        },
      );

      await t.step(
        "prefixes named alike by a rewrite, arriving one by one, are each routed",
        async () => {
          for (
            const [name, prefix] of [
              ["dg-lim-ab", "/a_b"],
              ["dg-lim-a-b", "/a/b"],
              ["dg-lim-ab2", "/a_b_2"],
            ]
          ) {
            await runContainer(name!, {
              network: net.name,
              servePaths: [prefix!],
              labels: {
                glue_http_80_host: "x.example.com",
                glue_http_80_prefix: prefix!,
              },
            });
            const ms = await waitForBody(
              port,
              "x.example.com",
              `${prefix}/whoami`,
              `${name} ${prefix}`,
              5000,
            );
            assertTrue(ms < 1000, `${prefix} routed after ${ms.toFixed(0)} ms`);
          }
          await goodAfter("dg-lim-good2", "good2.example.com");
        },
      );

      await t.step(
        "labels over the size limits are refused with one line; a good container is routed",
        async () => {
          const hosts = Array.from(
            { length: MAX_HOSTS + 1 },
            (_, i) => `h${i}.example.com`,
          ).join(",");
          await runContainer("dg-lim-wide", {
            network: net.name,
            labels: { glue_http_80_host: hosts },
          });
          const line = await balancer.waitForLine(
            /Container dg-lim-wide: label glue_http_80_host/,
          );
          assertIncludes(line, `more than ${MAX_HOSTS}`);
          assertTrue(line.length < 400, line);
          await goodAfter("dg-lim-good3", "good3.example.com");
          const report = await readRoutes(args);
          assertEquals(
            report.unrouted.filter((row) => row.reason === "bad-label")
              .map((row) => row.container).sort(),
            ["dg-lim-slow", "dg-lim-wide"],
          );
        },
      );

      await t.step(
        "the status page: loopback clients only, metrics and health for all, no header value anywhere",
        async () => {
          await runContainer("dg-lim-header", {
            network: net.name,
            labels: {
              glue_http_80_host: "header.example.com",
              "glue_http_80_request_header_X-Token": "s3cret-token",
            },
          });
          await waitForBody(
            port,
            "header.example.com",
            "/whoami",
            "dg-lim-header /",
            5000,
          );
          const page = await fetch(`http://127.0.0.1:${METRICS_PORT}/`);
          const html = await page.text();
          assertEquals(page.status, 200);
          assertIncludes(html, "request_header_X-Token=(set)");
          assertExcludes(html, "s3cret");
          const routes = JSON.stringify(await readRoutes(args));
          assertIncludes(routes, "request_header_X-Token=(set)");
          assertExcludes(routes, "s3cret");
          assertTrue(
            !balancer.lines.some((line) => line.includes("s3cret")),
            "a log line shows the header value",
          );
          // A client on the container network reaches the host's address.
          const gateway = await docker(
            "network",
            "inspect",
            "-f",
            "{{(index .IPAM.Config 0).Gateway}}",
            net.name,
          );
          const base = `http://${gateway}:${METRICS_PORT}`;
          const seen = await docker(
            "run",
            "--rm",
            "--network",
            net.name,
            IMAGE,
            "sh",
            "-c",
            `wget -q -O- ${base}/ 2>&1; echo; wget -q -O- ${base}/healthz 2>&1; echo; wget -q -O- ${base}/metrics 2>&1 | grep -c docker_glue`,
          );
          assertIncludes(seen, "403");
          assertExcludes(seen, "header.example.com");
          assertTrue(/^[1-9][0-9]*$/m.test(seen), seen);
        },
      );
      for (const figure of figures) console.log(figure);
    }),
});

Deno.test({
  name:
    "e2e: with --metrics-auth the status page asks every client for the login in the file, read with the compiled permissions",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withCleanup(async (cleanup) => {
      // Under /etc/haproxy, which the compiled binary may read, as
      // /etc/docker-glue is.
      const dir = await testTempDir(
        cleanup,
        "docker-glue-test-login-",
        "/etc/haproxy",
      );
      const file = `${dir}/metrics.auth`;
      await Deno.writeTextFile(file, "ops:s3cret pass\n", { mode: 0o600 });
      await Deno.chmod(file, 0o600);
      await startManaged(
        cleanup,
        "docker-glue-test-login",
        [
          "--metrics-listen",
          `127.0.0.1:${METRICS_PORT}`,
          "--metrics-auth",
          file,
        ],
      );
      const base = `http://127.0.0.1:${METRICS_PORT}`;
      const bare = await fetch(`${base}/`);
      await bare.body?.cancel();
      assertEquals(bare.status, 401);
      assertIncludes(bare.headers.get("www-authenticate") ?? "", "Basic");
      const wrong = await fetch(`${base}/`, {
        headers: { authorization: `Basic ${btoa("ops:wrong")}` },
      });
      await wrong.body?.cancel();
      assertEquals(wrong.status, 401);
      const right = await fetch(`${base}/`, {
        headers: { authorization: `Basic ${btoa("ops:s3cret pass")}` },
      });
      assertIncludes(await right.text(), "<title>");
      assertEquals(right.status, 200);
      const health = await fetch(`${base}/healthz`);
      await health.body?.cancel();
      assertTrue(health.status !== 401, `/healthz: ${health.status}`);
    }),
});
