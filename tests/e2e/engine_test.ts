/**
 * The engine against a real HAProxy it runs itself, where the order of its
 * effects shows: a runtime change whose file `haproxy -c` then rejects.
 */

import {
  assertEquals,
  assertExcludes,
  assertIncludes,
  assertRejects,
} from "../_fixtures/assert.ts";
import { container, ip, labels } from "../_fixtures/containers.ts";
import type { ContainerRecord } from "../../lib/docker/container.ts";
import { ReportedError } from "../../lib/util/reported_error.ts";
import { createBalancer } from "../../lib/haproxy/setup.ts";
import { checkSettings } from "../../lib/haproxy/settings.ts";
import { AdminSocket } from "../../lib/haproxy/io/runtime.ts";
import { ADMIN_SOCKET, freePort, testHaproxyDir } from "./_harness.ts";
import { withCleanup } from "../_fixtures/cleanup.ts";

const web = (name: string, address: string) =>
  container(name, ip(address), labels({ glue_http_80_host: "f.example.com" }));

Deno.test({
  name:
    "e2e engine: a runtime change whose file haproxy -c rejects is taken back, so HAProxy runs only what a file describes",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withCleanup(async (cleanup) => {
      const dir = await testHaproxyDir(cleanup);
      // haproxy -c rejects while the marker file exists; HAProxy itself runs.
      const marker = `${dir.path}/reject`;
      const bin = `${dir.path}/haproxy`;
      await Deno.writeTextFile(
        bin,
        `#!/bin/sh\nif [ "$1" = -c ] && [ -e '${marker}' ]; then echo '[ALERT] rejected by the test' >&2; exit 1; fi\nexec haproxy "$@"\n`,
        { mode: 0o755 },
      );
      let containers: ContainerRecord[] = [web("web1", "127.0.0.2")];
      const balancer = cleanup.add(
        "engine",
        await createBalancer(
          checkSettings({
            configFile: dir.config,
            mode: "managed",
            reloadCmd: "",
            haproxyBin: bin,
            includeEnv: false,
            httpBind: `127.0.0.1:${freePort()}`,
            statsBind: "",
            tcpBindAddress: "127.0.0.1",
            statsSocket: ADMIN_SOCKET,
            dryRun: false,
            debounce: { quietMs: 0, maxMs: 0 },
          }),
          { list: () => containers },
        ),
        (engine) => engine.close(),
      );
      await balancer.update();
      const admin = new AdminSocket(ADMIN_SOCKET);
      const names = async () =>
        (await admin.servers()).map((s) => s.name).filter((name) =>
          name.startsWith("web")
        ).sort();
      assertEquals(await names(), ["web1:80"]);

      await Deno.writeTextFile(marker, "");
      containers = [...containers, web("web2", "127.0.0.3")];
      // HAProxy gets the server at once; the file follows, is rejected,
      // and the server is taken back.
      const { rejections } = balancer.stats;
      await balancer.update();
      await assertRejects(() => balancer.flush(), ReportedError);
      assertEquals(balancer.stats.rejections, rejections + 1);
      assertEquals(await names(), ["web1:80"]);
      assertExcludes(await Deno.readTextFile(dir.config), "web2");
      assertIncludes(
        await Deno.readTextFile(`${dir.config}.rejected`),
        "web2",
      );

      // Accepted again: the same change goes through the runtime API.
      await Deno.remove(marker);
      const { reloads } = balancer.stats;
      await balancer.update();
      await balancer.flush();
      assertEquals(await names(), ["web1:80", "web2:80"]);
      assertIncludes(await Deno.readTextFile(dir.config), "web2");
      assertEquals(balancer.stats.reloads, reloads);
    }),
});
