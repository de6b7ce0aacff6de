/**
 * Load with signals: SIGTERM in the middle of updates, and containers
 * replaced one by one under traffic.
 */

import { assertEquals, assertTrue } from "../_fixtures/assert.ts";
import { haproxyCheck } from "../_fixtures/haproxy.ts";
import {
  docker,
  DockerApi,
  ensureImage,
  httpGet,
  masterReloads,
  removeContainers,
  runBalancer,
  runContainer,
  startBalancer,
  startManaged,
  stopAtEnd,
  testHaproxyDir,
  testNetwork,
  waitFor,
} from "./_harness.ts";
import { withCleanup } from "../_fixtures/cleanup.ts";
import { opts, pool, quietArgs, serversIn, stoppedMidUpdate } from "./_load.ts";

Deno.test({
  ...opts,
  name:
    "load: SIGTERM during a burst of renders lets the update finish: a whole, valid config and no temp files",
  fn: () =>
    withCleanup(async (cleanup) => {
      await ensureImage();
      // Enough to keep starting after the last threshold (15).
      const names = Array.from({ length: 20 }, (_, i) => `dg-term-${i}`);
      await removeContainers(...names);
      const net = await testNetwork(cleanup, "docker-glue-test-term");
      // Created once and started in each round through the API: the CLI's
      // processes and new containers would only slow the rounds down.
      const api = new DockerApi();
      cleanup.defer("Docker API client", () => api.close());
      cleanup.defer("containers", () => removeContainers(...names));
      await pool(names, 10, (name) =>
        api.create(name, {
          network: net.name,
          labels: { glue_http_80_host: `${name}.example.com` },
        }));
      const dir = await testHaproxyDir(cleanup);
      const config = dir.config;
      const args = quietArgs(config);
      // The signal goes once the file has `routed` servers, while more
      // containers start; whether it lands inside an update is chance, so
      // rounds go on until one has (one or two of the first three did in
      // each run here).
      let midUpdate = 0;
      const thresholds = [1, 6, 12, 3, 9, 15];
      for (
        let round = 0;
        round < 3 || (midUpdate === 0 && round < thresholds.length);
        round++
      ) {
        const routed = thresholds[round]!;
        // No debounce: every event renders, so updates follow each other.
        // Stopped below, its exit checked there; this is for a failure.
        const balancer = stopAtEnd(
          cleanup,
          "docker-balancer",
          startBalancer([
            "-w",
            ...args,
            "--debounce",
            "0",
            "--log-level",
            "debug",
          ]),
          false,
        );
        await balancer.waitForLine(/watching unix:/);
        const before = await Deno.readTextFile(config).catch(() => null);
        // Starts after the signal would only be removed again.
        let signalled = false;
        const started: string[] = [];
        const starting = pool(
          names,
          10,
          (name) => api.start(name).then(() => started.push(name)),
          () => signalled,
        );
        await waitFor(
          `${routed} servers in the file`,
          async () =>
            serversIn(await Deno.readTextFile(config).catch(() => ""))
                .length >= routed
              ? true
              : undefined,
          60000,
          10,
        );
        signalled = true;
        const status = await balancer.stop();
        await starting;
        assertEquals(status.code, 0);
        const mid = stoppedMidUpdate(balancer.lines);
        if (mid) midUpdate++;
        const leftovers: string[] = [];
        for await (const entry of Deno.readDir(dir.path)) {
          if (entry.name !== "haproxy.cfg") leftovers.push(entry.name);
        }
        assertEquals(leftovers, []);
        const text = await Deno.readTextFile(config);
        const check = await haproxyCheck(text);
        assertTrue(check.ok, check.output);
        // The file is the last install's, whole: as many servers as it
        // said; with no install in this run, the file it found.
        const last = balancer.lines.findLast((l) => / Installed /.test(l));
        if (last === undefined) assertEquals(text, before);
        else {
          const said = Number(/(\d+) servers/.exec(last)?.[1]);
          assertEquals(serversIn(text).length, said, last);
        }
        console.log(
          `SIGTERM once ${routed} were routed: ${
            mid ? "between a render and its install" : "between updates"
          }; the file has ${serversIn(text).length} servers`,
        );
        await pool(started, 10, (name) => api.kill(name));
      }
      assertTrue(
        midUpdate > 0,
        "no stop signal landed between a render and its install",
      );
      // A fresh run converges on exactly what runs.
      const once = await runBalancer(["-1", ...args]);
      assertEquals(once.code, 0, once.stderr);
      assertEquals(serversIn(await Deno.readTextFile(config)), []);
    }),
});

Deno.test({
  ...opts,
  name:
    "load: 16 containers that ignore SIGTERM replaced one by one under traffic: no failed request, no reload",
  fn: () =>
    withCleanup(async (cleanup) => {
      // Debug logs carry each event's time, for a failure's evidence.
      const setup = await startManaged(cleanup, "docker-glue-test-roll", [
        "--log-level",
        "debug",
      ]);
      const { net, port, balancer } = setup;
      const config = setup.dir.config;
      const label = { glue_http_80_host: "roll.example.com" };
      // Like many real images: httpd as PID 1 ignores SIGTERM, so `docker
      // stop` kills it when the timeout runs out, whatever it was doing.
      const run = (name: string) =>
        runContainer(name, {
          network: net.name,
          labels: label,
          ignoreSigterm: true,
        });
      const live: string[] = [];
      for (let slot = 0; slot < 3; slot++) {
        const name = `dg-roll-0-${slot}`;
        await run(name);
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
      const reloadsBefore = await masterReloads();

      let stop = false;
      let ok = 0;
      const failures: string[] = [];
      const latencies: number[] = [];
      const client = async () => {
        while (!stop) {
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
            else {
              failures.push(
                `${new Date().toISOString()} status ${res.status} after ${
                  (performance.now() - start).toFixed(0)
                } ms, body ${JSON.stringify(res.body.slice(0, 80))}`,
              );
            }
          } catch (error) {
            failures.push(String(error));
          }
        }
      };
      const clients = Array.from({ length: 6 }, client);
      const started = performance.now();
      // An old container's stop (its two-second timeout, then the kill)
      // overlaps the next slot's start, as in a real rolling update; its
      // own slot is not replaced again before it is gone.
      const retiring: Promise<unknown>[] = [
        Promise.resolve(),
        Promise.resolve(),
        Promise.resolve(),
      ];
      for (let i = 0; i < 16; i++) {
        const slot = i % 3;
        const name = `dg-roll-${i + 1}-${slot}`;
        await retiring[slot];
        // The new one first; the old one is stopped once HAProxy has the new one.
        await run(name);
        await waitFor(
          `${name} routed`,
          async () =>
            (await Deno.readTextFile(config)).includes(`server ${name}:80 `)
              ? true
              : undefined,
          20000,
          10,
        );
        const old = live[slot]!;
        live[slot] = name;
        retiring[slot] = docker("stop", "-t", "2", old).then(() =>
          docker("rm", old)
        );
      }
      await Promise.all(retiring);
      stop = true;
      await Promise.all(clients);
      const reloads = await masterReloads();
      latencies.sort((a, b) => a - b);
      const p99 = latencies[Math.floor(latencies.length * 0.99)] ?? 0;
      console.log(
        `rolling replacement: ${ok + failures.length} requests over ${
          ((performance.now() - started) / 1000).toFixed(0)
        } s, ${failures.length} failed, 16 containers replaced (SIGTERM ignored, docker stop -t 2), HAProxy reloads ${reloadsBefore} -> ${reloads}, latency p99 ${
          p99.toFixed(1)
        } ms, max ${(latencies.at(-1) ?? 0).toFixed(0)} ms`,
      );
      assertTrue(ok > 1000, `only ${ok} requests`);
      if (failures.length > 0) {
        // The evidence for a failure: when each container was drained,
        // stopped and taken out, against the failed request's time.
        console.log(
          balancer.lines.filter((line) =>
            /dg-roll|reweighted|Event (kill|die|start)/.test(line)
          ).join("\n"),
        );
      }
      assertEquals(failures.slice(0, 5), []);
      assertEquals(reloads, reloadsBefore);
    }),
});
