/**
 * docker-balancer's command line, run from source with the compiled
 * binary's permissions: exit statuses and the one-line errors operators see.
 */

import {
  assertEquals,
  assertExcludes,
  assertIncludes,
  assertTrue,
} from "../_fixtures/assert.ts";
import {
  ensureImage,
  haproxyDir,
  removeContainers,
  runBalancer,
  runContainer,
  testHaproxyDir,
  testNetwork,
  waitFor,
} from "./_harness.ts";
import { withCleanup } from "../_fixtures/cleanup.ts";
import { VERSION } from "../../lib/version.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

/** The last stderr line: where the one-line error is. */
function lastLine(text: string): string {
  return text.trim().split("\n").at(-1) ?? "";
}

Deno.test({
  ...opts,
  name: "cli: --version and --help exit 0",
  async fn() {
    const version = await runBalancer(["--version"]);
    assertEquals([version.code, version.stdout], [0, VERSION]);
    const help = await runBalancer(["-h"]);
    assertEquals(help.code, 0);
    for (
      const flag of [
        "--once",
        "--watch",
        "--watch-set",
        "--template-dir",
        "--config-file",
        "--rc",
        "--include-env",
        "--docker-url",
        "--reload-cmd",
        "--dry-run",
      ]
    ) {
      assertIncludes(help.stdout, flag);
    }
  },
});

Deno.test({
  ...opts,
  name: "cli: usage errors exit 2 with one line",
  async fn() {
    const unknown = await runBalancer(["-1", "--bogus"]);
    assertEquals(unknown.code, 2);
    assertIncludes(unknown.stderr, "unknown option '--bogus'");
    const nothing = await runBalancer([]);
    assertEquals(nothing.code, 2);
    assertIncludes(nothing.stderr, "pass -1");
    const debounce = await runBalancer(["-1", "--debounce", "soon"]);
    assertEquals(debounce.code, 2);
    assertIncludes(debounce.stderr, 'Invalid debounce "soon"');
    // Bad flag values are usage errors too, each named in one line.
    const bad: [string[], string][] = [
      [["--http-bind", "*:80 # x"], "Invalid HTTP bind"],
      [["--stats-bind", "127.0.0.1:1,127.0.0.1:2"], "Invalid stats bind"],
      [["--stats-socket", "relative.sock"], "Invalid stats socket"],
      [["--tcp-bind-address", "example.com"], "Invalid TCP bind address"],
      [["--reload-cmd", "kill 'unclosed"], "Invalid reload command"],
      [["--https-bind", "*:443\u0007"], "Invalid HTTPS bind"],
      [["--acme-directory", "https://ca.example/dir"], "--acme-email"],
      [
        ["--acme-directory", "https://ca.example/dir", "--acme-email", "a@b.c"],
        "give --https-bind too",
      ],
    ];
    for (const [args, message] of bad) {
      const run = await runBalancer(["-w", "--dry-run", ...args]);
      assertEquals(run.code, 2, `${args.join(" ")}: ${run.stderr}`);
      assertIncludes(lastLine(run.stderr), message);
    }
  },
});

Deno.test({
  ...opts,
  name: "cli: Docker unreachable is one line and exit 1",
  async fn() {
    // The compiled permissions allow only the local socket: a TCP URL names the
    // missing permission and how to build a binary that has it.
    const denied = await runBalancer([
      "-1",
      "--dry-run",
      "--docker-url",
      "tcp://127.0.0.1:1",
    ]);
    assertEquals(denied.code, 1);
    assertIncludes(
      lastLine(denied.stderr),
      'Missing permission: Requires net access to "127.0.0.1:1"',
    );
    assertIncludes(lastLine(denied.stderr), "deno task compile");
    // With that permission granted, the failure is the connection itself.
    const refused = await runBalancer(
      ["-1", "--dry-run", "--docker-url", "tcp://127.0.0.1:1"],
      ["--allow-net=127.0.0.1:1"],
    );
    assertEquals(refused.code, 1);
    assertIncludes(
      lastLine(refused.stderr),
      "Cannot reach Docker at tcp://127.0.0.1:1",
    );
  },
});

Deno.test({
  ...opts,
  name:
    "cli: a missing template, unwritable config dir or missing haproxy is fatal and named",
  async fn() {
    const dir = await haproxyDir();
    try {
      const cfg = ["--config-file", dir.config];
      const template = await runBalancer([
        "-1",
        ...cfg,
        "--template-file",
        "nope.njk",
      ]);
      assertEquals(template.code, 1);
      assertIncludes(
        lastLine(template.stderr),
        'Cannot load template "nope.njk"',
      );

      const missingDir = await runBalancer([
        "-1",
        "--config-file",
        `${dir.path}/no/such/haproxy.cfg`,
      ]);
      assertEquals(missingDir.code, 1);
      assertIncludes(
        lastLine(missingDir.stderr),
        `Config directory ${dir.path}/no/such is not writable`,
      );

      const outside = await runBalancer([
        "-1",
        "--config-file",
        "/srv/elsewhere/haproxy.cfg",
      ]);
      assertEquals(outside.code, 1);
      assertIncludes(
        lastLine(outside.stderr),
        'Missing permission: Requires write access to "/srv/elsewhere',
      );
      assertIncludes(
        lastLine(outside.stderr),
        "deno task compile --allow-write=/srv/elsewhere",
      );

      const noHaproxy = await runBalancer([
        "-1",
        ...cfg,
        "--haproxy-bin",
        "/usr/sbin/haproxy-missing",
      ]);
      assertEquals(noHaproxy.code, 1);
      assertTrue(
        /Missing permission|HAProxy not found/.test(lastLine(noHaproxy.stderr)),
        noHaproxy.stderr,
      );
    } finally {
      await dir.remove();
    }
  },
});

Deno.test({
  ...opts,
  name:
    "cli: -1 installs, --dry-run prints, a rejected config exits 1 and keeps the old one",
  fn: () =>
    withCleanup(async (cleanup) => {
      await ensureImage();
      await removeContainers("dg-cli");
      const net = await testNetwork(cleanup, "docker-glue-test-cli");
      const dir = await testHaproxyDir(cleanup);
      const config = dir.config;
      const base = [
        "--config-file",
        config,
        "--http-bind",
        "127.0.0.1:1",
        "--stats-socket",
        `${dir.path}/admin.sock`,
        "--stats-bind",
        "",
        "--reload-cmd",
        "",
      ];
      await runContainer("dg-cli", {
        network: net.name,
        labels: { glue_http_80_host: "cli.example.com" },
      });
      const dry = await runBalancer(["-1", "--dry-run", ...base]);
      assertEquals(dry.code, 0, dry.stderr);
      // A plain host name is routed through the host map to a pool backend.
      assertIncludes(dry.stdout, "map_str(");
      assertIncludes(dry.stdout, "# cli.example.com hosts_1");
      assertIncludes(dry.stdout, "server dg-cli:80 ");
      await waitFor("no config from a dry run", async () => {
        try {
          await Deno.stat(config);
          return undefined;
        } catch {
          return true;
        }
      }, 100);

      const once = await runBalancer(["-1", ...base]);
      assertEquals(once.code, 0, once.stderr);
      const installed = await Deno.readTextFile(config);
      assertIncludes(
        await Deno.readTextFile(`${config}.hosts.map`),
        "cli.example.com hosts_1\n",
      );
      assertIncludes(once.stderr, "Container dg-cli: routed cli.example.com/");

      // A user template HAProxy rejects: the installed file stays as it was.
      await Deno.writeTextFile(
        `${dir.path}/broken.cfg.njk`,
        `{% extends "haproxy.cfg.njk" %}{% block defaults %}\n    no_such_keyword on{% endblock %}`,
      );
      const rejected = await runBalancer([
        "-1",
        ...base,
        "--template-dir",
        `${dir.path}:`,
        "--template-file",
        "broken.cfg.njk",
      ]);
      assertEquals(rejected.code, 1);
      assertIncludes(rejected.stderr, "HAProxy rejected the new configuration");
      assertIncludes(rejected.stderr, "no_such_keyword");
      assertEquals(await Deno.readTextFile(config), installed);
      assertIncludes(
        await Deno.readTextFile(`${config}.rejected`),
        "no_such_keyword",
      );
      assertEquals(
        (await Deno.stat(`${config}.rejected`)).mode! & 0o777,
        0o600,
      );

      // Byte-identical output: nothing written, nothing reloaded.
      const again = await runBalancer(["-1", ...base, "--log-level", "debug"]);
      assertEquals(again.code, 0, again.stderr);
      assertIncludes(again.stderr, "Configuration unchanged");
      assertExcludes(again.stderr, "Installed");
    }),
});
