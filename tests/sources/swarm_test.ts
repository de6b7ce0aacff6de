import { assertEquals } from "../_fixtures/assert.ts";
import { container, labels, network } from "../_fixtures/containers.ts";
import {
  GATEWAY_NETWORK,
  SERVICE_ID_LABEL,
  taskView,
  withServiceLabels,
} from "../../lib/sources/swarm.ts";

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

/** A task of service `svc1` on an overlay network only, started at `startedAt`. */
function overlayTask(name: string, startedAt: string) {
  return container(
    name,
    labels({ [SERVICE_ID_LABEL]: "svc1" }),
    network("web_default", "10.0.1.3"),
    (r) => {
      r.startedAt = startedAt;
    },
  );
}

Deno.test("swarm: a task off the default bridge is known by its docker_gwbridge address alone, or waits for it", () => {
  const services = new Map([["svc1", {
    glue_http_80_host: "svc.example.com",
  }]]);
  const readAt = Date.parse("2026-01-01T00:00:10Z");
  const early = overlayTask("web.1.a", "2026-01-01T00:00:05Z");
  const late = overlayTask("web.2.b", "2026-01-01T00:00:10.5Z");
  const state = {
    services,
    gateways: new Map([[early.id, "172.21.0.4"]]),
    gatewaysReadAt: readAt,
  };
  // The overlay address, which the host does not reach, is not offered.
  assertEquals(taskView(early, state)?.networks, {
    [GATEWAY_NETWORK]: "172.21.0.4",
  });
  assertEquals(
    taskView(early, state)?.labels.glue_http_80_host,
    "svc.example.com",
  );
  // Started after the read: not known yet, so not offered at all.
  assertEquals(taskView(late, state), null);
  // The next read has it.
  assertEquals(
    taskView(late, {
      ...state,
      gateways: new Map([[late.id, "172.21.0.5"]]),
      gatewaysReadAt: readAt + 1000,
    })?.networks,
    { [GATEWAY_NETWORK]: "172.21.0.5" },
  );
  // Read after it started and not there (an internal overlay network): no
  // address, so not routed, rather than routed on the overlay address.
  assertEquals(
    taskView(late, { ...state, gatewaysReadAt: readAt + 1000 })?.networks,
    {},
  );
  // A stopped task waits for nothing.
  const stopped = { ...late, running: false };
  assertEquals(taskView(stopped, state)?.networks, {});
  // On the default bridge, and not a task: as they are.
  const bridged = container("web.3.c", labels({ [SERVICE_ID_LABEL]: "svc1" }));
  assertEquals(taskView(bridged, state)?.ipAddress, bridged.ipAddress);
  assertEquals(taskView(bridged, state)?.networks, bridged.networks);
  const plain = container("plain", network("web_default", "10.0.1.9"));
  assertEquals(taskView(plain, state), plain);
});
