/**
 * Load: an event storm, a crash-looping container, and containers replaced
 * one by one under steady HTTP traffic through a real HAProxy.
 */

import { assertEquals, assertTrue } from "../_fixtures/assert.ts";
import { haproxyCheck } from "../_fixtures/haproxy.ts";
import {
  createNetwork,
  docker,
  ensureImage,
  freePort,
  haproxyDir,
  httpGet,
  IMAGE,
  removeContainers,
  runBalancer,
  runContainer,
  startBalancer,
  startBalancerWithHaproxy,
  TEST_LABEL,
  waitFor,
} from "./_harness.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

/** Runs `fn` over `items`, `limit` at a time. */
async function pool<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

/**
 * Flags for a balancer that writes `config` but reloads nothing and opens no
 * stats page or socket: these tests count installs, HAProxy is not needed.
 */
function quietArgs(config: string): string[] {
  return [
    "--config-file",
    config,
    "--http-bind",
    `127.0.0.1:${freePort()}`,
    "--stats-bind",
    "",
    "--stats-socket",
    "",
    "--reload-cmd",
    "",
  ];
}

function serversIn(text: string): string[] {
  return [...text.matchAll(/^\s+server (\S+) /gm)].map((m) => m[1]!).sort();
}

Deno.test({
  ...opts,
  name: "load: 200 containers started and removed together, twice",
  async fn() {
    await ensureImage();
    await removeContainers();
    const net = await createNetwork("docker-glue-test-storm");
    const dir = await haproxyDir();
    const config = dir.config;
    const balancer = startBalancer([
      "-w",
      ...quietArgs(config),
      "--log-level",
      "debug",
    ]);
    const names = Array.from({ length: 200 }, (_, i) => `dg-storm-${i}`);
    const installs = () => balancer.count(/ Installed /);
    const waitServers = async (want: string[], what: string) => {
      try {
        await waitFor(
          what,
          async () => {
            const have = serversIn(
              await Deno.readTextFile(config).catch(() => ""),
            );
            return JSON.stringify(have) === JSON.stringify(want)
              ? true
              : undefined;
          },
          180_000,
          250,
        );
      } catch (error) {
        // Say which containers are off, and what the balancer said of them.
        const have = serversIn(await Deno.readTextFile(config).catch(() => ""));
        const missing = want.filter((n) => !have.includes(n));
        const extra = have.filter((n) => !want.includes(n));
        const names = [...missing, ...extra].map((n) => n.replace(/:80$/, ""))
          .slice(0, 3);
        const said = balancer.lines.filter((l) =>
          names.some((n) => l.includes(n))
        ).slice(-10);
        const ps = names.length === 0 ? "" : await docker(
          "ps",
          "-a",
          "--filter",
          `name=${names[0]}`,
          "--format",
          "{{.Names}} {{.Status}}",
        );
        throw new Error(
          `${(error as Error).message}; missing ${missing.join(",")}; extra ${
            extra.join(",")
          }; docker: ${ps}; log:\n${said.join("\n")}`,
        );
      }
    };
    try {
      await balancer.waitForLine(/watching unix:/);
      const rssStart = await balancer.rssKiB();
      const rss: number[] = [];
      for (const round of [1, 2]) {
        await pool(
          names,
          16,
          (name) =>
            runContainer(name, {
              network: net.name,
              labels: { glue_http_80_host: `${name}.example.com` },
            }),
        );
        await waitServers(
          names.map((n) => `${n}:80`).sort(),
          `round ${round}: 200 servers`,
        );
        const keep = round === 1 ? [] : names.slice(0, 50);
        await pool(
          names.filter((n) => !keep.includes(n)),
          16,
          (name) => docker("rm", "-f", name),
        );
        await waitServers(
          keep.map((n) => `${n}:80`).sort(),
          `round ${round}: ${keep.length} servers left`,
        );
        rss.push(await balancer.rssKiB());
      }
      const events = balancer.count(/ Event \w+ for container /);
      const reloads = installs();
      console.log(
        `storm: ${events} container events, ${reloads} installs/reloads; RSS ${rssStart} KiB at start, ${
          rss.join(" KiB, ")
        } KiB after each round`,
      );
      // start, die and destroy per container and round (rm -f sends no stop).
      assertTrue(events >= 1000, `only ${events} events seen`);
      // Unbatched, every start and every removal would reload (about 800);
      // 51 to 91 were seen over seven runs, so the bound leaves room for a
      // slow machine and still catches lost batching.
      assertTrue(
        reloads * 6 < events,
        `${reloads} reloads for ${events} events`,
      );
      assertTrue(
        rss[1]! < rss[0]! * 1.3 + 10_240,
        `memory grew from ${rss[0]} to ${rss[1]} KiB`,
      );
      const check = await haproxyCheck(await Deno.readTextFile(config));
      assertTrue(check.ok, check.output);
    } finally {
      const status = await balancer.stop();
      await removeContainers(...names);
      await net.remove();
      await dir.remove();
      assertEquals(status.code, 0);
    }
  },
});

Deno.test({
  ...opts,
  name:
    "load: SIGTERM during a burst of renders leaves a whole, valid config and no temp files",
  async fn() {
    await ensureImage();
    const net = await createNetwork("docker-glue-test-term");
    const dir = await haproxyDir();
    const config = dir.config;
    const args = quietArgs(config);
    const names = Array.from({ length: 30 }, (_, i) => `dg-term-${i}`);
    try {
      for (const delay of [300, 900, 1700]) {
        // No debounce: every event renders, so the signal lands mid-render.
        const balancer = startBalancer(["-w", ...args, "--debounce", "0"]);
        await balancer.waitForLine(/watching unix:/);
        const starting = pool(
          names,
          10,
          (name) =>
            runContainer(name, {
              network: net.name,
              labels: { glue_http_80_host: `${name}.example.com` },
            }),
        );
        await new Promise((r) => setTimeout(r, delay));
        const status = await balancer.stop();
        await starting;
        assertEquals(status.code, 0);
        const leftovers: string[] = [];
        for await (const entry of Deno.readDir(dir.path)) {
          if (entry.name !== "haproxy.cfg") leftovers.push(entry.name);
        }
        assertEquals(leftovers, []);
        const check = await haproxyCheck(await Deno.readTextFile(config));
        assertTrue(check.ok, check.output);
        await removeContainers(...names);
      }
      // A fresh run converges on exactly what runs.
      const once = await runBalancer(["-1", ...args]);
      assertEquals(once.code, 0, once.stderr);
      assertEquals(serversIn(await Deno.readTextFile(config)), []);
    } finally {
      await removeContainers(...names);
      await net.remove();
      await dir.remove();
    }
  },
});

Deno.test({
  ...opts,
  name: "load: a crash-looping container is damped, not reloaded every second",
  async fn() {
    await ensureImage();
    await removeContainers("dg-flap");
    const net = await createNetwork("docker-glue-test-flap");
    const dir = await haproxyDir();
    const config = dir.config;
    const balancer = startBalancer(["-w", ...quietArgs(config)]);
    try {
      await balancer.waitForLine(/ Installed /);
      const before = balancer.count(/ Installed /);
      await docker(
        "run",
        "-d",
        "--name",
        "dg-flap",
        "--network",
        net.name,
        "--restart=always",
        "-l",
        TEST_LABEL,
        "-l",
        "glue_http_80_host=flap.example.com",
        "--entrypoint",
        "/bin/sh",
        IMAGE,
        "-c",
        "sleep 1; exit 1",
      );
      await new Promise((r) => setTimeout(r, 15_000));
      const restarts = Number(
        await docker("inspect", "-f", "{{.RestartCount}}", "dg-flap"),
      );
      const installs = balancer.count(/ Installed /) - before;
      console.log(
        `crash loop: ${restarts} restarts in 15 s, ${installs} installs/reloads`,
      );
      assertTrue(restarts >= 4, `only ${restarts} restarts`);
      assertTrue(installs <= 2, `${installs} reloads`);
      await balancer.waitForLine(/Container dg-flap: damped/);
    } finally {
      const status = await balancer.stop();
      await removeContainers("dg-flap");
      await net.remove();
      await dir.remove();
      assertEquals(status.code, 0);
    }
  },
});

Deno.test({
  ...opts,
  name:
    "load: containers replaced one by one under 60 s of traffic, no failed request",
  async fn() {
    await ensureImage();
    await removeContainers();
    const net = await createNetwork("docker-glue-test-roll");
    const dir = await haproxyDir();
    const config = dir.config;
    const port = freePort();
    const common = dir.listenArgs(port);
    const { balancer, haproxy } = await startBalancerWithHaproxy(
      config,
      common,
    );
    const label = { glue_http_80_host: "roll.example.com" };
    const live: string[] = [];
    try {
      await balancer.waitForLine(/watching unix:/);
      for (let slot = 0; slot < 3; slot++) {
        const name = `dg-roll-0-${slot}`;
        await runContainer(name, { network: net.name, labels: label });
        live.push(name);
      }
      await waitFor(
        "three servers",
        async () =>
          serversIn(await Deno.readTextFile(config)).length === 3
            ? true
            : undefined,
      );
      await waitFor(
        "traffic flowing",
        async () =>
          (await httpGet(port, "roll.example.com", "/whoami")).status === 200 ||
          undefined,
      );

      const deadline = Date.now() + 62_000;
      let ok = 0;
      const failures: string[] = [];
      const latencies: number[] = [];
      const client = async () => {
        while (Date.now() < deadline) {
          const start = performance.now();
          try {
            const res = await httpGet(
              port,
              "roll.example.com",
              "/whoami",
              5000,
            );
            latencies.push(performance.now() - start);
            if (res.status === 200 && res.body.startsWith("dg-roll-")) ok++;
            else failures.push(`status ${res.status}`);
          } catch (error) {
            failures.push(String(error));
          }
        }
      };
      const clients = Array.from({ length: 6 }, client);
      let replaced = 0;
      for (let round = 1; Date.now() < deadline - 8000; round++) {
        for (let slot = 0; slot < 3 && Date.now() < deadline - 8000; slot++) {
          const name = `dg-roll-${round}-${slot}`;
          // The new one first; the old one stops once the new one is routed.
          await runContainer(name, { network: net.name, labels: label });
          await waitFor(
            `${name} routed`,
            async () =>
              (await Deno.readTextFile(config)).includes(`server ${name}:80 `)
                ? true
                : undefined,
          );
          await new Promise((r) => setTimeout(r, 1000));
          const old = live[slot]!;
          live[slot] = name;
          await docker("stop", "-t", "5", old);
          await docker("rm", old);
          replaced++;
        }
      }
      await Promise.all(clients);
      const reloads = balancer.count(/Reloaded HAProxy/);
      latencies.sort((a, b) => a - b);
      const p99 = latencies[Math.floor(latencies.length * 0.99)] ?? 0;
      console.log(
        `rolling replacement: ${
          ok + failures.length
        } requests over 62 s, ${failures.length} failed, ${replaced} containers replaced, ${reloads} reloads, latency p99 ${
          p99.toFixed(1)
        } ms, max ${(latencies.at(-1) ?? 0).toFixed(0)} ms`,
      );
      assertTrue(replaced >= 6, `only ${replaced} replaced`);
      assertTrue(ok > 1000, `only ${ok} requests`);
      assertEquals(failures.slice(0, 5), []);
    } finally {
      const status = await balancer.stop();
      await haproxy.stop();
      await removeContainers();
      await net.remove();
      await dir.remove();
      assertEquals(status.code, 0);
    }
  },
});
