/**
 * Both binaries against an etcd with TLS, client certificates and auth, set
 * up as docs/etcd.md's "Securing etcd" says: each host writes only its own
 * keys, the balancer only reads.
 */

import { assertEquals, assertTrue } from "../_fixtures/assert.ts";
import { withCleanup } from "../_fixtures/cleanup.ts";
import {
  ensureImage,
  removeContainers,
  runBalancer,
  startGlue,
  stopsCleanly,
  testHaproxyDir,
  waitFor,
} from "./_harness.ts";
import { handlerDir, opts, run } from "./_etcd.ts";
import { SECURE_ETCD_URL, SecureEtcd } from "./_etcd_secure.ts";

Deno.test({
  ...opts,
  name:
    "e2e etcd secured: TLS with client certificates and a user per host; a host writes only its own keys, the balancer reads them all",
  fn: (t) =>
    withCleanup(async (cleanup) => {
      await ensureImage();
      const names = ["dg-sec-a", "dg-sec-b"];
      await removeContainers(...names);
      cleanup.defer("containers", () => removeContainers(...names));
      // Under /etc/haproxy, which the compiled docker-balancer may read.
      const dir = `${(await testHaproxyDir(cleanup)).path}/etcd`;
      await Deno.mkdir(dir, { mode: 0o700 });
      const prefix = "/dgs";
      const etcd = cleanup.add(
        "secure etcd",
        await SecureEtcd.start(dir, prefix, ["ha", "hb"]),
        (e) => e.stop(),
      );
      const files = etcd.files;
      const publisher = (user: string, hostId: string, filter: string) =>
        handlerDir(cleanup, "publisher", {
          endpoints: SECURE_ETCD_URL,
          prefix,
          ttl: "12",
          "host-id": hostId,
          "advertise-address": "127.0.0.1",
          "filter-label": filter,
          cacert: files.cacert,
          cert: files.cert,
          key: files.key,
          user,
          "password-file": files.passwordFile(user),
        });
      const hostA = `${prefix}/hosts/ha/containers/`;

      const glueA = stopsCleanly(
        cleanup,
        "docker-glue ha",
        startGlue([
          "-w",
          "--handler-paths",
          (await publisher("ha", "ha", "dg-sec=a")).path,
        ]),
      );
      await glueA.waitForLine(/with 1 handlers/);
      let idA = "";
      await t.step(
        "a host publishes its containers as its own user",
        async () => {
          idA = await run("dg-sec-a", {
            "dg-sec": "a",
            glue_http_80_host: "secure.example.com",
          }, "127.0.0.1::80");
          await waitFor(
            "ha's key",
            async () => (await etcd.read(hostA))[`${hostA}${idA}`],
            15000,
          );
        },
      );

      await t.step(
        "the balancer reads them as its read-only user",
        async () => {
          const once = await runBalancer([
            "-1",
            "--dry-run",
            "--source",
            "etcd",
            "--etcd-endpoints",
            SECURE_ETCD_URL,
            "--etcd-prefix",
            prefix,
            "--etcd-cacert",
            files.cacert,
            "--etcd-cert",
            files.cert,
            "--etcd-key",
            files.key,
            "--etcd-user",
            "balancer",
            "--etcd-password-file",
            files.passwordFile("balancer"),
          ]);
          assertEquals(once.code, 0, once.stderr);
          assertTrue(
            /server ha:dg-sec-a:80 127\.0\.0\.1:\d+ /.test(once.stdout),
            once.stdout,
          );
        },
      );

      await t.step(
        "another host's user cannot overwrite ha's keys: refused in one line, retried, nothing lost",
        async () => {
          const before = await etcd.read(hostA);
          await run("dg-sec-b", { "dg-sec": "b" }, "127.0.0.1::80");
          // hb's user, claiming to be host ha.
          const glueB = stopsCleanly(
            cleanup,
            "docker-glue hb as ha",
            startGlue([
              "-w",
              "--handler-paths",
              (await publisher("hb", "ha", "dg-sec=b")).path,
            ]),
          );
          const refused = await glueB.waitForLine(
            /Cannot publish host ha to etcd: .*permission denied; retrying/,
            15000,
          );
          assertTrue(refused.includes(SECURE_ETCD_URL), refused);
          // Retried with back-off, without a line per attempt.
          await new Promise((r) => setTimeout(r, 3000));
          assertEquals(glueB.count(/Cannot publish host ha/), 1);
          assertEquals(await etcd.read(hostA), before);
          // The host keeps its own: ha's agent still publishes.
          assertTrue(before[`${hostA}${idA}`] !== undefined);
          assertEquals((await glueB.stop()).code, 0);
        },
      );

      await t.step(
        "a host whose rights are taken away retries, and publishes once they are back",
        async () => {
          await etcd.ctl("user", "revoke-role", "ha", "host-ha");
          const id2 = await run("dg-sec-a2", {
            "dg-sec": "a",
          }, "127.0.0.1::80");
          cleanup.defer("container", () => removeContainers("dg-sec-a2"));
          await glueA.waitForLine(
            /Cannot publish host ha to etcd: .*permission denied; retrying/,
            15000,
          );
          await etcd.ctl("user", "grant-role", "ha", "host-ha");
          await glueA.waitForLine(/reachable again; resynced/, 15000);
          const now = await etcd.read(hostA);
          assertTrue(now[`${hostA}${idA}`] !== undefined);
          assertTrue(now[`${hostA}${id2}`] !== undefined);
        },
      );
    }),
});
