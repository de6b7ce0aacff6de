/**
 * A label port another program holds: `haproxy -c` passes (it does not
 * bind), HAProxy then cannot open the listener. That route alone is lost,
 * with the reason in `routes`; every other container keeps being routed,
 * also after HAProxy dies and is started again.
 */

import {
  assertEquals,
  assertExcludes,
  assertIncludes,
} from "../_fixtures/assert.ts";
import {
  freePort,
  masterProc,
  readRoutes,
  runContainer,
  startManaged,
  waitFor,
  waitForBody,
} from "./_harness.ts";
import { withCleanup } from "../_fixtures/cleanup.ts";

Deno.test({
  name:
    "e2e: a TCP port and a per-port frontend's port held by another program cost only their own routes; HAProxy killed comes back routing the rest",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withCleanup(async (cleanup) => {
      // Another program on the host holds these two ports.
      const [heldTcp, heldHttp] = [freePort(), freePort()];
      for (const port of [heldTcp, heldHttp]) {
        const listener = Deno.listen({ hostname: "127.0.0.1", port });
        cleanup.defer(`listener on ${port}`, () => listener.close());
      }
      const extra = [
        "--per-port-frontends",
        "--tcp-bind-address",
        "127.0.0.1",
      ];
      const { net, balancer, args, dir } = await startManaged(
        cleanup,
        "docker-glue-test-rejected",
        extra,
      );
      const [good, later] = [freePort(), freePort()];
      await runContainer("dg-rej-good", {
        network: net.name,
        port: good,
        labels: { [`glue_http_${good}_host`]: "good.example.com" },
      });
      await waitForBody(good, "good.example.com", "/whoami", "dg-rej-good /");

      await runContainer("dg-rej-tcp", {
        network: net.name,
        labels: { glue_tcp_ports: "80", glue_tcp_80_listen: String(heldTcp) },
      });
      await runContainer("dg-rej-http", {
        network: net.name,
        port: heldHttp,
        labels: { [`glue_http_${heldHttp}_host`]: "held.example.com" },
      });
      const tcpLine = await balancer.waitForLine(
        /Container dg-rej-tcp: label glue_tcp_80_listen: HAProxy cannot listen/,
      );
      assertIncludes(tcpLine, `port ${heldTcp}`);
      assertIncludes(tcpLine, "Address already in use");
      await balancer.waitForLine(
        new RegExp(
          `Container dg-rej-http: label glue_http_${heldHttp}_host: HAProxy cannot listen`,
        ),
      );

      // Everything else keeps updating: a new host on a routed port, and a
      // new port, which needs a reload.
      await runContainer("dg-rej-new", {
        network: net.name,
        port: good,
        labels: { [`glue_http_${good}_host`]: "new.example.com" },
      });
      await runContainer("dg-rej-later", {
        network: net.name,
        port: later,
        labels: { [`glue_http_${later}_host`]: "later.example.com" },
      });
      await waitForBody(good, "new.example.com", "/whoami", "dg-rej-new /");
      await waitForBody(
        later,
        "later.example.com",
        "/whoami",
        "dg-rej-later /",
      );

      const report = await readRoutes([...args, ...extra]);
      const rejected = report.unrouted.filter((row) =>
        row.reason === "rejected"
      );
      assertEquals(
        rejected.map((row) => row.container).sort(),
        ["dg-rej-http", "dg-rej-tcp"],
      );
      assertIncludes(rejected[0]?.detail ?? "", "Address already in use");
      const text = await Deno.readTextFile(dir.config);
      assertExcludes(text, `:${heldTcp}`);
      assertExcludes(text, `:${heldHttp}`);

      // HAProxy dies: it is started again on the file, which starts.
      const before = await masterProc();
      if (before === null) throw new Error("HAProxy's master does not answer");
      const started = balancer.count(/Started HAProxy/);
      Deno.kill(before.master, "SIGKILL");
      for (const worker of before.workers) {
        try {
          Deno.kill(worker.pid, "SIGKILL");
        } catch { /* gone with its master */ }
      }
      await balancer.waitForCount(/Started HAProxy/, started + 1);
      await waitFor("a new master", async () => {
        const now = await masterProc();
        return now !== null && now.master !== before.master || undefined;
      });
      await waitForBody(good, "good.example.com", "/whoami", "dg-rej-good /");
      await waitForBody(
        later,
        "later.example.com",
        "/whoami",
        "dg-rej-later /",
      );
    }),
});
