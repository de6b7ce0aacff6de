/**
 * A configuration `haproxy -c` rejects costs only the routes at fault
 * (issue 31): an operator's template that goes wrong for one host (a
 * backend named twice, a server address that does not resolve, a userlist
 * whose hash outlasts `--check-timeout`) leaves that route out with
 * HAProxy's words in the log and in `routes`, and every other container
 * keeps being routed and updated, a new one within 1 s of `docker run`.
 */

import { assertEquals, assertIncludes } from "../_fixtures/assert.ts";
import {
  httpGet,
  readRoutes,
  routedAfterRun,
  runContainer,
  startManaged,
  testTempDir,
} from "./_harness.ts";
import { withCleanup } from "../_fixtures/cleanup.ts";

// The built-in template, with a section more for three hosts, each of which
// HAProxy refuses in its own way; the hosts' own backends are as always.
const TEMPLATE = `{% extends "haproxy.cfg.njk" %}
{% block proxies %}{{ super() }}
{%- for r in routes %}
{%- if r.host == "dup.example.com" %}
backend {{ r.backend }}
{%- elif r.host == "unresolved.example.com" %}
backend {{ r.backend }}_probe
    server probe no-such-host.invalid:80
{%- elif r.host == "slow.example.com" %}
userlist {{ r.backend }}_users
    user alice password $6$rounds=90000000$saltsalt$${"A".repeat(86)}
{%- endif %}
{%- endfor %}
{% endblock %}
`;

Deno.test({
  name:
    "e2e: a file haproxy -c rejects (a name twice, an address that does not resolve, a check that times out) costs only the route at fault",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: (t) =>
    withCleanup(async (cleanup) => {
      // Where the compiled binary may read: under /etc/haproxy.
      const templates = await testTempDir(
        cleanup,
        "docker-glue-test-templates-",
        "/etc/haproxy",
      );
      await Deno.writeTextFile(`${templates}/faulty.cfg.njk`, TEMPLATE);
      const extra = [
        "--template-dir",
        `${templates}:`,
        "--template-file",
        "faulty.cfg.njk",
        "--check-timeout",
        "2s",
      ];
      const { net, balancer, port, args } = await startManaged(
        cleanup,
        "docker-glue-test-rejected-config",
        extra,
      );
      const figures: string[] = [];
      let good = 0;
      const goodOne = async () => {
        const name = `dg-rc-good${++good}`;
        const ms = await routedAfterRun(
          net.name,
          port,
          name,
          `good${good}.example.com`,
        );
        figures.push(`${name}: routed ${ms.toFixed(0)} ms after docker run`);
      };
      await goodOne();

      for (
        const [host, says] of [
          ["dup.example.com", "has the same name as backend"],
          ["unresolved.example.com", "could not resolve address"],
          ["slow.example.com", "did not finish within 2 s"],
        ] as const
      ) {
        await t.step(`${host}: ${says}`, async () => {
          const name = `dg-rc-${host.split(".")[0]}`;
          const started = performance.now();
          await runContainer(name, {
            network: net.name,
            labels: { glue_http_80_host: host },
          });
          const left = await balancer.waitForLine(
            new RegExp(
              `left out 1 route\\(s\\) at fault \\(${
                host.replaceAll(".", "\\.")
              }/\\)`,
            ),
            30000,
          );
          assertIncludes(left, says);
          const finding = await balancer.waitForLine(
            new RegExp(
              `Container ${name}: label glue_http_80_host: HAProxy rejected`,
            ),
          );
          assertIncludes(finding, says);
          figures.push(
            `${host}: isolated ${
              (performance.now() - started).toFixed(0)
            } ms after docker run`,
          );
          // The others are served, and a new one is routed at once.
          assertEquals(
            (await httpGet(port, "good1.example.com", "/whoami")).body,
            "dg-rc-good1 /",
          );
          await goodOne();
          assertEquals((await httpGet(port, host, "/whoami")).status, 503);
          const report = await readRoutes([...args, ...extra]);
          const row = report.unrouted.find((r) => r.container === name);
          assertEquals(row?.reason, "rejected");
          assertIncludes(row?.detail ?? "", says);
        });
      }
      for (const figure of figures) console.log(figure);
    }),
});
