/**
 * docker-balancer running HAProxy itself (`--haproxy managed`), with
 * membership changes through the runtime API. HAProxy's own master CLI is
 * the witness: its reload count and worker pid show whether a change
 * reloaded, whatever our log says.
 */

import { assertEquals, assertTrue } from "../_fixtures/assert.ts";
import { parseServersState } from "../../lib/haproxy/io/runtime.ts";
import { shapeOf } from "../../lib/haproxy/render/config_shape.ts";
import { sendCommand } from "../../lib/haproxy/io/runtime.ts";
import {
  ADMIN_SOCKET,
  clearLeftoverContainers,
  docker,
  ensureImage,
  freePort,
  httpGet,
  MASTER_SOCKET,
  masterProc,
  type Process,
  runContainer,
  sh,
  startBalancer,
  stopAtEnd,
  testHaproxyDir,
  testNetwork,
  waitFor,
  waitForBody,
} from "./_harness.ts";
import { withCleanup } from "../_fixtures/cleanup.ts";
import { sleep } from "../../lib/util/sleep.ts";

const HOST = "managed.example.com";
const label = { glue_http_80_host: HOST };

/** Servers HAProxy runs: `backend/name address:port weight`, sorted. */
async function runningServers(): Promise<string[]> {
  return parseServersState(
    await sendCommand(ADMIN_SOCKET, "show servers state"),
  ).map((s) => `${s.backend}/${s.name} ${s.address}:${s.port} w${s.weight}`)
    .sort();
}

/** Servers the configuration file holds, in the same form. */
async function fileServers(config: string): Promise<string[]> {
  const shape = shapeOf(await Deno.readTextFile(config));
  const out: string[] = [];
  for (const [backend, servers] of shape.servers) {
    for (const s of servers.values()) {
      out.push(`${backend}/${s.name} ${s.address}:${s.port} w${s.weight}`);
    }
  }
  return out.sort();
}

/** Waits until the file holds exactly the servers HAProxy runs (the file follows a runtime change). */
async function fileMatchesHAProxy(config: string): Promise<string[]> {
  let running: string[] = [];
  await waitFor(
    "the file to hold what HAProxy runs",
    async () => {
      running = await runningServers();
      const file = await fileServers(config);
      return JSON.stringify(file) === JSON.stringify(running)
        ? true
        : undefined;
    },
    5000,
    10,
  );
  return running;
}

/** HAProxy processes running on `config`, as ps lists them. */
async function haproxiesOn(config: string): Promise<string[]> {
  return (await sh("ps", "-eo", "pid=,args=")).split("\n").filter((line) =>
    /haproxy -W/.test(line) && line.includes(config)
  );
}

/** Reload count and current worker pid, from the master. */
async function haproxyState(
  log: Process,
): Promise<{ reloads: number; worker: number }> {
  // The master does not answer while it re-executes itself for a reload.
  const proc = await waitFor(
    "the master CLI",
    async () => (await masterProc()) ?? undefined,
    5000,
    20,
  ).catch(
    () => {
      throw new Error(
        `the master CLI does not answer; docker-balancer said:\n${
          log.lines.slice(-20).join("\n")
        }`,
      );
    },
  );
  const worker = proc.workers.find((w) => w.reloads === 0);
  return { reloads: proc.reloads, worker: worker?.pid ?? 0 };
}

/** Sends keep-alive requests on one connection, one at a time. */
class KeepAlive {
  readonly #conn: Deno.TcpConn;
  #buffer = "";

  private constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
  }

  static async open(port: number): Promise<KeepAlive> {
    return new KeepAlive(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  /** One request; resolves to the status, or rejects if the connection closed. */
  async get(host: string, path: string): Promise<number> {
    await this.#conn.write(
      new TextEncoder().encode(
        `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
      ),
    );
    const chunk = new Uint8Array(16384);
    while (true) {
      const end = this.#buffer.indexOf("\r\n\r\n");
      if (end >= 0) {
        const head = this.#buffer.slice(0, end);
        const length = Number(/content-length:\s*([0-9]+)/i.exec(head)?.[1]);
        if (!Number.isFinite(length)) {
          throw new Error(`response without Content-Length: ${head}`);
        }
        if (this.#buffer.length >= end + 4 + length) {
          this.#buffer = this.#buffer.slice(end + 4 + length);
          return Number(/^HTTP\/1\.[01] ([0-9]{3})/.exec(head)?.[1] ?? 0);
        }
      }
      const n = await this.#conn.read(chunk);
      if (n === null) throw new Error("HAProxy closed the connection");
      this.#buffer += new TextDecoder().decode(chunk.subarray(0, n));
    }
  }

  close(): void {
    this.#conn.close();
  }
}

Deno.test({
  name:
    "e2e managed: docker-balancer runs HAProxy, changes membership without reloads, survives HAProxy's death",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: (t) =>
    withCleanup(async (cleanup) => {
      await ensureImage();
      await clearLeftoverContainers();
      const net = await testNetwork(cleanup, "docker-glue-test-managed");
      const dir = await testHaproxyDir(cleanup);
      const config = dir.config;
      // A file someone else wrote is kept, not lost.
      await Deno.writeTextFile(config, "# the distribution's haproxy.cfg\n");
      const port = freePort();
      await runContainer("dg-m-0", { network: net.name, labels: label });
      // The last step stops it and checks its exit; this is for a failure.
      const started = stopAtEnd(
        cleanup,
        "docker-balancer",
        startBalancer(["-w", "--haproxy", "managed", ...dir.listenArgs(port)]),
        false,
      );
      await started.waitForLine(/Started HAProxy/);

      await t.step(
        "it starts HAProxy, which routes, and keeps the foreign file",
        async () => {
          await waitForBody(port, HOST, "/whoami", "dg-m-0 /");
          assertEquals(
            await Deno.readTextFile(`${config}.orig`),
            "# the distribution's haproxy.cfg\n",
          );
          await started.waitForLine(/kept it as .*haproxy\.cfg\.orig/);
          // The configuration holds the sticky-cookie secret; the operator's
          // own file may hold secrets too.
          for (const file of [config, `${config}.orig`]) {
            assertEquals((await Deno.stat(file)).mode! & 0o777, 0o600, file);
          }
        },
      );

      await t.step(
        "scale-out, scale-in and replacement change HAProxy's servers without a reload; one keep-alive connection survives 20 changes",
        async () => {
          const before = await haproxyState(started);
          const client = await KeepAlive.open(port);
          try {
            assertEquals(await client.get(HOST, "/whoami"), 200);
            for (let i = 1; i <= 10; i++) {
              const name = `dg-m-${i}`;
              await runContainer(name, { network: net.name, labels: label });
              await waitFor(
                `${name} in HAProxy`,
                async () =>
                  (await runningServers()).some((s) =>
                      s.includes(`/${name}:80 `)
                    )
                    ? true
                    : undefined,
              );
              assertEquals(await client.get(HOST, "/whoami"), 200);
              await docker("rm", "-f", name);
              await waitFor(
                `${name} out of HAProxy`,
                async () =>
                  (await runningServers()).some((s) =>
                      s.includes(`/${name}:80 `)
                    )
                    ? undefined
                    : true,
              );
              assertEquals(await client.get(HOST, "/whoami"), 200);
            }
          } finally {
            client.close();
          }
          const after = await haproxyState(started);
          assertEquals(after, before, "HAProxy reloaded");
          await fileMatchesHAProxy(config);
          assertTrue(
            started.count(/through the runtime API, no reload/) >= 20,
            "runtime changes logged",
          );
        },
      );

      await t.step(
        "a container stopping on SIGTERM is drained at once; HAProxy restarted from the file has the same servers, weights and drain",
        async () => {
          await runContainer("dg-m-slow", {
            network: net.name,
            labels: label,
            ignoreSigterm: true,
          });
          await waitForBody(port, HOST, "/whoami", "dg-m-slow /");
          // It ignores SIGTERM, so it keeps running for the 30 s timeout.
          const stopping = docker("stop", "-t", "30", "dg-m-slow");
          await waitFor(
            "dg-m-slow drained",
            async () =>
              (await runningServers()).some((s) =>
                  s.includes("/dg-m-slow:80 ") && s.endsWith(" w0")
                )
                ? true
                : undefined,
            3000,
            10,
          );
          // Docker says "running" until the process goes: a later inspect
          // of the same run (here for a network event) keeps it drained.
          const other = await testNetwork(
            cleanup,
            "docker-glue-test-managed-2",
          );
          await docker("network", "connect", other.name, "dg-m-slow");
          // Nothing should change in HAProxy, so there is nothing to wait
          // for: the event is handled within milliseconds of the connect.
          await sleep(1000);
          assertTrue(
            (await runningServers()).some((s) =>
              s.includes("/dg-m-slow:80 ") && s.endsWith(" w0")
            ),
            "still drained after a network event",
          );
          for (let i = 0; i < 20; i++) {
            const res = await httpGet(port, HOST, "/whoami");
            assertEquals(res.body, "dg-m-0 /");
          }
          const servers = await fileMatchesHAProxy(config);
          assertTrue(
            servers.some((s) => s.endsWith(" w0")),
            "a drained server",
          );

          const { master } = (await masterProc())!;
          Deno.kill(master, "SIGKILL");
          await started.waitForLine(/HAProxy .* exited with status/);
          await waitFor(
            "HAProxy back",
            async () =>
              (await masterProc())?.master !== master &&
                (await masterProc())?.workers.length
                ? true
                : undefined,
          );
          assertEquals(await runningServers(), servers);
          await waitForBody(port, HOST, "/whoami", "dg-m-0 /");
          await docker("kill", "dg-m-slow");
          await stopping.catch(() => {});
        },
      );

      await t.step(
        "a container that survives docker kill -s TERM is drained, then routed again once its stop timeout has passed",
        async () => {
          await runContainer("dg-m-stubborn", {
            network: net.name,
            labels: label,
            ignoreSigterm: true,
            extra: ["--stop-timeout", "2"],
          });
          const weight = async () =>
            (await runningServers()).find((s) =>
              s.includes("/dg-m-stubborn:80 ")
            )?.replace(/.* w/, "");
          await waitFor(
            "dg-m-stubborn routed",
            async () => (await weight()) === "100" || undefined,
          );
          await docker("kill", "-s", "TERM", "dg-m-stubborn");
          await waitFor(
            "dg-m-stubborn drained",
            async () => (await weight()) === "0" || undefined,
            3000,
            10,
          );
          const drained = Date.now();
          // Its stop timeout (2 s) and the agent's grace (5 s).
          await waitFor(
            "dg-m-stubborn routed again",
            async () => (await weight()) === "100" || undefined,
            12_000,
          );
          const seconds = (Date.now() - drained) / 1000;
          assertTrue(seconds >= 6, `routed again after ${seconds} s`);
          assertEquals(
            (await docker(
              "inspect",
              "-f",
              "{{.State.Running}}",
              "dg-m-stubborn",
            )).trim(),
            "true",
          );
          await started.waitForLine(
            /Container dg-m-stubborn: still running 7 s after a terminating signal/,
          );
          await docker("rm", "-f", "dg-m-stubborn");
        },
      );

      await t.step(
        "without the admin socket a change falls back to a reload with the right routes",
        async () => {
          const before = await haproxyState(started);
          const fallbacks = () =>
            started.count(/Reloaded HAProxy: runtime API failed/);
          const seen = fallbacks();
          await Deno.remove(ADMIN_SOCKET);
          await runContainer("dg-m-late", { network: net.name, labels: label });
          await waitFor(
            "a fallback reload",
            () => Promise.resolve(fallbacks() > seen ? true : undefined),
          );
          const after = await haproxyState(started);
          assertTrue(after.reloads > before.reloads, "HAProxy did not reload");
          await waitFor("dg-m-late answering", async () => {
            for (let i = 0; i < 4; i++) {
              const res = await httpGet(port, HOST, "/whoami");
              if (res.body === "dg-m-late /") return true;
            }
            return undefined;
          });
          // A reload hands the old socket to the new worker, so the path
          // stays gone (until HAProxy restarts) and changes keep reloading.
          await docker("rm", "-f", "dg-m-late");
          await waitFor("only dg-m-0 answering", async () => {
            for (let i = 0; i < 6; i++) {
              const res = await httpGet(port, HOST, "/whoami");
              if (res.body !== "dg-m-0 /") return undefined;
            }
            return true;
          });
        },
      );

      await t.step("stopping docker-balancer stops its HAProxy", async () => {
        const status = await started.stop();
        assertEquals(status.code, 0, started.lines.slice(-10).join("\n"));
        assertEquals(await masterProc(), null);
        assertEquals(await haproxiesOn(config), []);
        // HAProxy leaves its socket files behind; docker-balancer removes them.
        for (const socket of [ADMIN_SOCKET, MASTER_SOCKET]) {
          assertEquals(
            await Deno.stat(socket).then(() => "there", () => "gone"),
            "gone",
            socket,
          );
        }
      });
    }),
});
