/**
 * What the planner's tests share: the built-in template as the engine sets
 * it up, renderings of container sets with and without the host map, and a
 * plan in one line per operation.
 *
 * @module
 */

import { container, ip, labels, type Option } from "./containers.ts";
import type { ContainerRecord } from "../../lib/docker/container.ts";
import { BUILTIN_DIR } from "../../lib/haproxy/render/builtin_templates.ts";
import { type Plan } from "../../lib/haproxy/plan/plan_types.ts";
import { planFiles } from "../../lib/haproxy/plan/plan.ts";
import { Renderer } from "../../lib/haproxy/render/render.ts";
import {
  EMPTY_POOL,
  type PoolAssignment,
} from "../../lib/haproxy/model/pool.ts";
import { assignPool } from "../../lib/haproxy/model/host_pool.ts";
import { buildRoutes } from "../../lib/routing/routes.ts";

export const HOST_MAP = "/etc/haproxy/haproxy.cfg.hosts.map";

/**
 * The built-in template as the engine sets it up with an admin socket;
 * with the host map and per-port frontends when asked.
 */
export function builtin(
  hostMap: string = "",
  perPortFrontends = false,
): Renderer {
  return new Renderer(
    { dirs: [BUILTIN_DIR], file: "haproxy.cfg.njk" },
    {
      httpBind: ["127.0.0.1:18080"],
      perPortFrontends,
      statsBind: "",
      tcpBindAddress: "127.0.0.1",
      statsSocket: "/run/haproxy/admin.sock",
      stateFile: "/etc/haproxy/haproxy.cfg.state",
      maps: { http: hostMap },
    },
  );
}

export const renderer = builtin();

export function render(containers: readonly ContainerRecord[]): string {
  return renderer.render(buildRoutes(containers));
}

export function web(name: string, address: string, ...more: Option[]) {
  return container(
    name,
    ip(address),
    labels({ glue_http_80_host: "a.example.com" }),
    ...more,
  );
}

export const stopping: Option = (record) => {
  record.stopping = true;
};

/** A plan in one line per operation, for table comparisons. */
export function summary(plan: Plan): string[] {
  if (plan.kind === "none") return ["none"];
  if (plan.kind === "reload") return [`reload: ${plan.reason}`];
  return plan.ops.map((op) => {
    switch (op.op) {
      case "add":
        return `add ${op.backend}/${op.server.name} ${op.server.address}:${op.server.port} weight ${op.server.weight}`;
      case "remove":
        return `remove ${op.backend}/${op.server}`;
      case "weight":
        return `weight ${op.backend}/${op.server} ${op.weight}`;
      case "address":
        return `address ${op.backend}/${op.server} ${op.address}:${op.port}`;
      case "map":
        return `map ${op.key} ${op.value ?? "(removed)"}`;
      case "cert-add":
        return `cert-add ${op.file}`;
      case "cert-remove":
        return `cert-remove ${op.file}`;
    }
  });
}

export const one = web("w1", "10.0.0.2");
export const two = web("w2", "10.0.0.3");

/** Renders with the host map and its pool, as the engine does with an admin socket. */
export function pooled(
  containers: readonly ContainerRecord[],
  previous: PoolAssignment = EMPTY_POOL,
) {
  const { table, assignment } = assignPool(buildRoutes(containers), previous);
  return {
    text: mapRenderer.render(table),
    map: table.maps.http,
    assignment,
  };
}

export const mapRenderer = builtin(HOST_MAP);

export function pooledPlan(
  before: readonly ContainerRecord[],
  after: readonly ContainerRecord[],
): string[] {
  const a = pooled(before);
  const b = pooled(after, a.assignment);
  return summary(
    planFiles(a.text, b.text, {
      maps: [{ file: HOST_MAP, before: a.map, after: b.map }],
    }),
  );
}

export const bHost = container(
  "b1",
  ip("10.0.0.4"),
  labels({ glue_http_80_host: "b.example.com" }),
);
