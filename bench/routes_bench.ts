/**
 * Cost of one re-render: labels to routes, and routes to haproxy.cfg text,
 * for inventories of 100 and 1000 labelled containers.
 * Run with `deno task bench`.
 */

import { buildRoutes } from "../lib/routing/routes.ts";
import { Renderer } from "../lib/haproxy/render/render.ts";
import { DEFAULT_TEMPLATE_DIRS } from "../lib/haproxy/render/builtin_templates.ts";
import { container, ip, labels } from "../tests/_fixtures/containers.ts";
import { EMPTY_POOL } from "../lib/haproxy/model/pool.ts";
import { assignPool } from "../lib/haproxy/model/host_pool.ts";
import { planFiles } from "../lib/haproxy/plan/plan.ts";

function inventory(size: number) {
  return Array.from({ length: size }, (_, i) =>
    container(
      `c${i}`,
      ip(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`),
      labels({
        glue_http_80_host: `app${i % (size / 4)}.example.com`,
        glue_http_80_prefix: i % 3 === 0 ? `api/v${i % 5}` : "",
        glue_http_80_weight: String(i % 257),
      }),
    ));
}

const renderer = new Renderer(
  { dirs: DEFAULT_TEMPLATE_DIRS, file: "haproxy.cfg.njk" },
  { httpBind: ["*:80"], statsBind: "127.0.0.1:8404", tcpBindAddress: "*" },
);

for (const size of [100, 1000]) {
  const containers = inventory(size);
  const table = buildRoutes(containers);
  Deno.bench(`buildRoutes, ${size} containers`, { group: `${size}` }, () => {
    buildRoutes(containers);
  });
  Deno.bench(`render, ${size} containers`, { group: `${size}` }, () => {
    renderer.render(table);
  });
}

// What one update costs the engine with the host map: 400 plain hosts in
// pool backends, rendered, then planned against the previous rendering.
const plainHosts = Array.from({ length: 400 }, (_, i) =>
  container(
    `p${i}`,
    ip(`10.9.${(i >> 8) & 255}.${i & 255}`),
    labels({ glue_http_80_host: `host${i}.example.com` }),
  ));
const pooledRenderer = new Renderer(
  { dirs: DEFAULT_TEMPLATE_DIRS, file: "haproxy.cfg.njk" },
  {
    httpBind: ["*:80"],
    statsBind: "127.0.0.1:8404",
    tcpBindAddress: "*",
    statsSocket: "/run/haproxy/admin.sock",
    maps: { http: "/etc/haproxy/haproxy.cfg.hosts.map" },
  },
);
const before = assignPool(buildRoutes(plainHosts.slice(1)), EMPTY_POOL);
const beforeText = pooledRenderer.render(before.table);
Deno.bench("update with the host map: routes, pool, render", {
  group: "pool",
}, () => {
  pooledRenderer.render(
    assignPool(buildRoutes(plainHosts), before.assignment).table,
  );
});
const afterText = pooledRenderer.render(
  assignPool(buildRoutes(plainHosts), before.assignment).table,
);
Deno.bench("update with the host map: plan", { group: "pool" }, () => {
  planFiles(beforeText, afterText);
});
