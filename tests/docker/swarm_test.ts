import { assertEquals } from "../_fixtures/assert.ts";
import { container, labels } from "../_fixtures/containers.ts";
import { SERVICE_ID_LABEL, withServiceLabels } from "../../lib/docker/swarm.ts";

Deno.test("swarm: a task container gets its service's labels, its own win; other containers are left alone", () => {
  const services = new Map([["svc1", {
    glue_http_80_host: "svc.example.com",
    glue_http_80_weight: "50",
  }]]);
  const task = container(
    "web.1.abc",
    labels({ [SERVICE_ID_LABEL]: "svc1", glue_http_80_weight: "10" }),
  );
  assertEquals(withServiceLabels(task, services).labels, {
    glue_http_80_host: "svc.example.com",
    glue_http_80_weight: "10",
    [SERVICE_ID_LABEL]: "svc1",
  });
  const plain = container(
    "plain",
    labels({ glue_http_80_host: "p.example.com" }),
  );
  assertEquals(withServiceLabels(plain, services), plain);
  const orphan = container("gone.1.x", labels({ [SERVICE_ID_LABEL]: "svc9" }));
  assertEquals(withServiceLabels(orphan, services), orphan);
});
