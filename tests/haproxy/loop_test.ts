/**
 * The loop: against runtime faults, with the real haproxy -c (a
 * configuration HAProxy rejects, a reload command that fails), and when
 * the file follows a runtime change, with a recording HAProxy.
 */

import {
  assertEquals,
  assertExcludes,
  assertIncludes,
  assertRejects,
  assertTrue,
} from "../_fixtures/assert.ts";
import { container, ip, labels } from "../_fixtures/containers.ts";
import type { ContainerRecord } from "../../lib/docker/container.ts";
import { ReportedError } from "../../lib/util/reported_error.ts";
import { createBalancer as create } from "../../lib/haproxy/setup.ts";
import {
  checkSettings,
  type HAProxySettings,
} from "../../lib/haproxy/settings.ts";
import type { ContainerSource } from "../../lib/docker/container.ts";
import {
  parseRejections,
  rejectionsFile,
} from "../../lib/routing/rejections.ts";
import { recordedEngine } from "../_fixtures/recording_haproxy.ts";
import { FILE_LAG_MS, FILE_QUIET_MS } from "../../lib/haproxy/loop.ts";

/** The engine for these settings, checked as an entry point checks them. */
const createBalancer = (settings: HAProxySettings, source: ContainerSource) =>
  create(checkSettings(settings), source);

/** Settings for an engine on `config` with an external HAProxy and no admin socket. */
function external(config: string, reloadCmd: string): HAProxySettings {
  return {
    configFile: config,
    mode: "external",
    reloadCmd,
    haproxyBin: "haproxy",
    includeEnv: false,
    httpBind: "127.0.0.1:18080",
    statsBind: "",
    tcpBindAddress: "127.0.0.1",
    dryRun: false,
    debounce: { quietMs: 0, maxMs: 0 },
  };
}

// Extends the built-in template and breaks it for one host, like a user's
// template with a bug that only some containers trigger.
const TEMPLATE = `{% extends "haproxy.cfg.njk" %}{% block defaults %}
{%- for r in routes %}{% if r.host == "break.example.com" %}
    no_such_keyword on{% endif %}{% endfor %}{% endblock %}`;

Deno.test("engine: a rejected config keeps the running one and the next change is retried; a failed reload is retried without a rollback", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/faulty.cfg.njk`, TEMPLATE);
    const config = `${dir}/haproxy.cfg`;
    let containers: ContainerRecord[] = [
      container(
        "web",
        ip("10.0.0.2"),
        labels({ glue_http_80_host: "web.example.com" }),
      ),
    ];
    const balancer = await createBalancer({
      ...external(
        config,
        `sh -c 'test ! -e ${dir}/fail && echo reload >> ${dir}/reloads'`,
      ),
      templateDir: `${dir}:`,
      templateFile: "faulty.cfg.njk",
    }, { list: () => containers });
    const reloads = async () =>
      (await Deno.readTextFile(`${dir}/reloads`).catch(() => "")).split("\n")
        .filter(Boolean).length;

    await balancer.update();
    const good = await Deno.readTextFile(config);
    assertIncludes(good, "web.example.com");
    assertEquals(await reloads(), 1);

    // HAProxy rejects: its error names no route's line (the template's
    // defaults), so the changed routes are halved: the one at fault is
    // left out, noted for routes, and the rest stays as it ran.
    containers = [
      ...containers,
      container(
        "breaker",
        ip("10.0.0.3"),
        labels({ glue_http_80_host: "break.example.com" }),
      ),
    ];
    await balancer.update();
    await balancer.flush();
    assertEquals(await Deno.readTextFile(config), good);
    assertIncludes(
      await Deno.readTextFile(`${config}.rejected`),
      "no_such_keyword",
    );
    assertEquals([balancer.stats.rejections, await reloads()], [1, 1]);
    const rejected = parseRejections(
      await Deno.readTextFile(rejectionsFile(config)),
    );
    assertEquals([...rejected.keys()], ["route http  break.example.com "]);
    assertIncludes([...rejected.values()][0]?.message ?? "", "no_such_keyword");

    // A template broken for every route is no route's fault: the running
    // config stays and the error is reported.
    await Deno.writeTextFile(
      `${dir}/faulty.cfg.njk`,
      TEMPLATE.replace(
        '{% if r.host == "break.example.com" %}',
        "{% if true %}",
      ),
    );
    const broken = await createBalancer({
      ...external(config, `sh -c 'echo reload >> ${dir}/reloads'`),
      templateDir: `${dir}:`,
      templateFile: "faulty.cfg.njk",
    }, { list: () => containers });
    await assertRejects(() => broken.update(), ReportedError);
    assertEquals(await Deno.readTextFile(config), good);
    await broken.close();
    await Deno.writeTextFile(`${dir}/faulty.cfg.njk`, TEMPLATE);

    // The next change is tried afresh.
    containers = [
      containers[0]!,
      container(
        "api",
        ip("10.0.0.4"),
        labels({ glue_http_80_host: "api.example.com" }),
      ),
    ];
    await balancer.update();
    assertIncludes(await Deno.readTextFile(config), "api.example.com");
    assertEquals(await reloads(), 2);

    // The reload fails: the new config stays installed (no silent rollback).
    await Deno.writeTextFile(`${dir}/fail`, "");
    containers = [containers[0]!];
    await assertRejects(() => balancer.update(), ReportedError);
    assertExcludes(await Deno.readTextFile(config), "api.example.com");
    assertEquals(await reloads(), 2);

    // Reload works again: the next update reloads even though the config is unchanged.
    await Deno.remove(`${dir}/fail`);
    await balancer.update();
    assertEquals(await reloads(), 3);
    await balancer.update();
    assertEquals(await reloads(), 3);
    await balancer.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "engine: a write that fails on a full file system is retried by itself until it lands",
  // Mounting a small tmpfs needs root: CI runs as root, so there the test
  // always runs (and fails if it cannot mount).
  ignore: new TextDecoder().decode(
        new Deno.Command("id", { args: ["-u"] }).outputSync().stdout,
      ).trim() !== "0" && Deno.env.get("CI") !== "true",
  async fn() {
    const dir = await Deno.makeTempDir();
    const full = `${dir}/etc`;
    await Deno.mkdir(full);
    const mount = await new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", "size=64k", "tmpfs", full],
      stderr: "piped",
    }).output();
    if (!mount.success) {
      await Deno.remove(dir, { recursive: true });
      throw new Error(
        `cannot mount a tmpfs: ${new TextDecoder().decode(mount.stderr)}`,
      );
    }
    try {
      const config = `${full}/haproxy.cfg`;
      let containers: ContainerRecord[] = [
        container(
          "web",
          ip("10.0.0.2"),
          labels({ glue_http_80_host: "a.example.com" }),
        ),
      ];
      const balancer = await createBalancer(
        external(config, `sh -c 'echo reload >> ${dir}/reloads'`),
        { list: () => containers },
      );
      await balancer.update();
      // Fill the file system: the next configuration cannot be written.
      const filler = `${full}/filler`;
      await new Deno.Command("dd", {
        args: ["if=/dev/zero", `of=${filler}`, "bs=1k", "count=64"],
        stderr: "null",
      }).output();
      containers = [
        ...containers,
        container(
          "api",
          ip("10.0.0.3"),
          labels({ glue_http_80_host: "b.example.com" }),
        ),
      ];
      await assertRejects(() => balancer.update(), ReportedError);
      assertExcludes(await Deno.readTextFile(config), "10.0.0.3");
      assertEquals(balancer.stats.installs, 1);
      // Room again: no new event comes, the retry installs it by itself.
      await Deno.remove(filler);
      // The file is renamed into place before the reload command runs:
      // wait for the reload, which comes last.
      const reloads = async () =>
        (await Deno.readTextFile(`${dir}/reloads`)).trim().split("\n").length;
      const deadline = Date.now() + 5000;
      while ((await reloads()) < 2 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
      }
      assertIncludes(await Deno.readTextFile(config), "10.0.0.3");
      assertEquals(balancer.stats.installs, 2);
      assertEquals(await reloads(), 2);
      await balancer.close();
    } finally {
      await new Deno.Command("umount", { args: [full] }).output();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("engine: once closed (SIGHUP swapped it out) nothing is written or reloaded, whatever asks", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const config = `${dir}/haproxy.cfg`;
    let containers: ContainerRecord[] = [];
    const balancer = await createBalancer({
      ...external(config, `sh -c 'echo reload >> ${dir}/reloads'`),
      // A retry or a reload held for the burst would be armed by an
      // update in progress.
      debounce: { quietMs: 200, maxMs: 200 },
    }, { list: () => containers });
    await balancer.update();
    const before = await Deno.readTextFile(config);
    containers = [
      container(
        "late",
        ip("10.0.0.9"),
        labels({ glue_http_80_host: "late.example.com" }),
      ),
    ];
    balancer.schedule();
    await balancer.close();
    balancer.schedule();
    balancer.urgent();
    await balancer.update();
    // Past the quiet time, when a retry or held reload would have run.
    await new Promise((r) => setTimeout(r, 400));
    assertEquals(await Deno.readTextFile(config), before);
    assertExcludes(before, "late.example.com");
    // The first update's reload, and no other.
    assertEquals(await Deno.readTextFile(`${dir}/reloads`), "reload\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("engine: before its first update nothing runs, whatever asks (after SIGHUP the old handler still runs HAProxy)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const config = `${dir}/haproxy.cfg`;
    const balancer = await createBalancer(
      external(config, `sh -c 'echo reload >> ${dir}/reloads'`),
      {
        list: () => [
          container(
            "web",
            ip("10.0.0.2"),
            labels({ glue_http_80_host: "web.example.com" }),
          ),
        ],
      },
    );
    balancer.schedule();
    balancer.urgent();
    await balancer.flush();
    await new Promise((r) => setTimeout(r, 100));
    assertEquals(await Deno.readTextFile(config).catch(() => null), null);
    await balancer.update();
    assertIncludes(await Deno.readTextFile(config), "web.example.com");
    assertEquals(await Deno.readTextFile(`${dir}/reloads`), "reload\n");
    await balancer.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Serves a.com's container "a"; the list can change between updates. */
type Containers = { list: ContainerRecord[] };

/** Runs `body` with the loop over a recording HAProxy, then closes both. */
async function withRecorded(
  body: (
    recorded: ReturnType<typeof recordedEngine>,
    containers: Containers,
  ) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "docker-glue-loop-" });
  const containers: Containers = {
    list: [
      container("a", ip("10.0.0.2"), labels({ glue_http_80_host: "a.com" })),
    ],
  };
  const recorded = recordedEngine(
    { list: () => containers.list },
    `${dir}/haproxy.cfg`,
    { httpBind: ["127.0.0.1:18080"], statsBind: "", tcpBindAddress: "" },
  );
  try {
    await recorded.engine.update();
    await body(recorded, containers);
  } finally {
    await recorded.engine.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** A container joining a.com at `address`. */
const join = (name: string, address: string) =>
  container(name, ip(address), labels({ glue_http_80_host: "a.com" }));

Deno.test("loop: the file follows a runtime change once changes have been quiet, the latest state only; a reload writes its own", () =>
  withRecorded(async ({ engine, haproxy }, containers) => {
    assertEquals([haproxy.reloads, haproxy.installs], [1, 1]);

    // Two runtime changes in a row: HAProxy has each at once, the file is
    // written once, after both, with both.
    containers.list = [...containers.list, join("b", "10.0.0.3")];
    const first = engine.update();
    containers.list = [...containers.list, join("c", "10.0.0.4")];
    await Promise.all([first, engine.update()]);
    assertEquals(haproxy.installs, 1);
    assertIncludes(haproxy.commands.join("\n"), "c:80");
    // Written once changes have been quiet for FILE_QUIET_MS, not before.
    await new Promise((r) => setTimeout(r, FILE_QUIET_MS / 2));
    assertEquals(haproxy.installs, 1);
    await new Promise((r) => setTimeout(r, FILE_QUIET_MS));
    assertEquals([haproxy.reloads, haproxy.installs], [1, 2]);
    assertIncludes(haproxy.text, "10.0.0.4");

    // A runtime change then a structural one before the file's turn: the
    // reload's file is the only one written.
    containers.list = [...containers.list, join("d", "10.0.0.5")];
    const runtime = engine.update();
    containers.list = [
      ...containers.list,
      container(
        "p",
        ip("10.0.0.9"),
        labels({ glue_http_80_host: "b.com", glue_http_80_prefix: "/api" }),
      ),
    ];
    await Promise.all([runtime, engine.update()]);
    await new Promise((r) => setTimeout(r, FILE_QUIET_MS * 1.5));
    assertEquals([haproxy.reloads, haproxy.installs], [2, 3]);
    assertIncludes(haproxy.text, "10.0.0.5");
  }));

Deno.test("loop: while changes keep coming the file is written at most FILE_LAG_MS behind the first", () =>
  withRecorded(async ({ engine, haproxy }, containers) => {
    const started = Date.now();
    let writtenAt: number | null = null;
    // A change every 50 ms, each quieter than FILE_QUIET_MS apart.
    for (let i = 0; Date.now() - started < FILE_LAG_MS * 1.5; i++) {
      containers.list = [...containers.list, join(`j${i}`, `10.0.1.${i + 1}`)];
      await engine.update();
      if (writtenAt === null && haproxy.installs > 1) writtenAt = Date.now();
      await new Promise((r) => setTimeout(r, 50));
    }
    assertEquals(haproxy.reloads, 1);
    const lag = (writtenAt ?? Infinity) - started;
    // 100 ms of slack: one change's interval and the timer's.
    assertTrue(lag >= FILE_LAG_MS - 60 && lag <= FILE_LAG_MS + 100, `${lag}`);
  }));
