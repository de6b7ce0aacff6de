/**
 * Load: an event storm, a crash-looping container, and containers replaced
 * one by one under steady HTTP traffic through a real HAProxy.
 */

import { assertTrue } from "../_fixtures/assert.ts";
import { haproxyCheck } from "../_fixtures/haproxy.ts";
import {
  docker,
  DockerApi,
  ensureImage,
  IMAGE,
  removeContainers,
  startBalancer,
  stopsCleanly,
  TEST_LABEL,
  testHaproxyDir,
  testNetwork,
  waitFor,
} from "./_harness.ts";
import { withCleanup } from "../_fixtures/cleanup.ts";
import { opts, pool, quietArgs, serversIn } from "./_load.ts";

Deno.test({
  ...opts,
  name:
    "load: 200 containers started together, killed together, started again and removed together",
  fn: () =>
    withCleanup(async (cleanup) => {
      await ensureImage();
      const names = Array.from({ length: 200 }, (_, i) => `dg-storm-${i}`);
      await removeContainers(...names);
      cleanup.defer("containers", () => removeContainers(...names));
      // Docker's default bridge, not a network of the test's: after 400
      // concurrent removals Docker 20.10 kept a phantom endpoint on the
      // test's network ("has active endpoints" with no container listed,
      // not even after `network disconnect -f` by every name), so the
      // network could not be removed until dockerd restarted. Nothing is
      // sent to these containers: the test reads only the file.
      const net = { name: "bridge" };
      const dir = await testHaproxyDir(cleanup);
      const config = dir.config;
      const balancer = stopsCleanly(
        cleanup,
        "docker-balancer",
        startBalancer(["-w", ...quietArgs(config), "--log-level", "debug"]),
      );
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
          const have = serversIn(
            await Deno.readTextFile(config).catch(() => ""),
          );
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
      await balancer.waitForLine(/watching unix:/);
      const rssStart = await balancer.rssKiB();
      // The API, not the CLI: 1,200 CLI processes would cost about a minute
      // of this machine's two cores on top of Docker's own work.
      const api = new DockerApi();
      cleanup.defer("Docker API client", () => api.close());
      const rss: number[] = [];
      // Created once: the storms are the starts, kills and removals. The
      // second round starts the killed containers again, as after a host's
      // crash, which spares 200 creations and 200 removals.
      await pool(
        names,
        16,
        (name) =>
          api.create(name, {
            network: net.name,
            labels: { glue_http_80_host: `${name}.example.com` },
          }),
      );
      for (const round of [1, 2]) {
        await pool(names, 16, (name) => api.start(name));
        await waitServers(
          names.map((n) => `${n}:80`).sort(),
          `round ${round}: 200 servers`,
        );
        const keep = round === 1 ? [] : names.slice(0, 50);
        await pool(
          names.filter((n) => !keep.includes(n)),
          16,
          (name) => round === 1 ? api.kill(name) : api.remove(name),
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
      // create, then per round start, kill and die, and destroy in the
      // second: 1,450 (rm -f sends kill but no stop).
      assertTrue(events >= 1000, `only ${events} events seen`);
      // Unbatched, every start, kill and removal would reload (about 750);
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
    }),
});

Deno.test({
  ...opts,
  name: "load: a crash-looping container is damped, not reloaded every second",
  fn: () =>
    withCleanup(async (cleanup) => {
      await ensureImage();
      await removeContainers("dg-flap");
      const net = await testNetwork(cleanup, "docker-glue-test-flap");
      const dir = await testHaproxyDir(cleanup);
      const config = dir.config;
      const balancer = stopsCleanly(
        cleanup,
        "docker-balancer",
        startBalancer(["-w", ...quietArgs(config)]),
      );
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
      const started = performance.now();
      // Each run lasts a second and Docker's restart delay doubles from
      // 100 ms: five restarts take about 8 s.
      const restarts = await waitFor(
        "five restarts",
        async () => {
          const count = Number(
            await docker("inspect", "-f", "{{.RestartCount}}", "dg-flap"),
          );
          return count >= 5 ? count : undefined;
        },
        30_000,
        250,
      );
      const installs = balancer.count(/ Installed /) - before;
      console.log(
        `crash loop: ${restarts} restarts in ${
          ((performance.now() - started) / 1000).toFixed(1)
        } s, ${installs} installs/reloads`,
      );
      assertTrue(installs <= 2, `${installs} reloads`);
      await balancer.waitForLine(/Container dg-flap: damped/);
    }),
});
