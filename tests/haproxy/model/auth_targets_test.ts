import { assertEquals } from "../../_fixtures/assert.ts";
import { authTargets } from "../../../lib/haproxy/model/auth_targets.ts";
import type { ContainerRecord } from "../../../lib/docker/container.ts";
import type { Server } from "../../../lib/routing/route_types.ts";
import { DEFAULT_ROUTE_SETTINGS } from "../../../lib/routing/route_settings.ts";
import { parseForwardAuth } from "../../../lib/routing/forward_auth.ts";
import { container } from "../../_fixtures/containers.ts";
import { serverOf } from "../../_fixtures/routes.ts";

function on(
  name: string,
  networks: Record<string, string>,
  more: Partial<ContainerRecord> = {},
): ContainerRecord {
  return { ...container(name), ipAddress: "", networks, ...more };
}

function routed(backend: string, target: string | null, servers: Server[]) {
  return {
    backend,
    route: {
      settings: {
        ...DEFAULT_ROUTE_SETTINGS,
        forwardAuth: target === null ? null : parseForwardAuth(target),
      },
      servers,
    },
  };
}

Deno.test("auth targets: an address as given; a container by name on the route's engine, its --network address first; none while it does not run", () => {
  const app = on("app", { web: "10.0.0.2" });
  const sso = on("sso", { web: "10.0.0.9", auth: "10.1.0.9" });
  const remoteApp = on("app2", { web: "10.5.0.2" }, {
    host: { id: "h2", advertiseAddress: "192.0.2.2" },
  });
  const stopped = on("gone", { web: "10.0.0.7" }, { running: false });
  const all = [app, sso, remoteApp, stopped];
  const byId = new Map(all.map((r) => [r.id, r]));
  const backends = [
    routed("zz_plain", null, [serverOf(app)]),
    routed("b_address", "http://[fd00::9]:4180/oauth2/auth", [serverOf(app)]),
    routed("a_container", "container:sso:9091/verify", [serverOf(app)]),
    routed("c_other_engine", "container:sso:9091/verify", [
      serverOf(remoteApp),
    ]),
    routed("d_stopped", "container:gone:9091/verify", [serverOf(app)]),
    routed("e_no_servers", "container:sso:9091/verify", []),
  ];
  let listed = 0;
  const entries = authTargets(backends, (id) => byId.get(id), () => {
    listed++;
    return all;
  }, "auth");
  assertEquals(entries, [
    ["a_container", "10.1.0.9:9091/verify"],
    ["b_address", "[fd00::9]:4180/oauth2/auth"],
  ]);
  assertEquals(listed, 1, "the containers are listed once per update");
  assertEquals(
    authTargets(backends.slice(0, 2), (id) => byId.get(id), () => {
      listed++;
      return all;
    }, undefined),
    [["b_address", "[fd00::9]:4180/oauth2/auth"]],
  );
  assertEquals(listed, 1, "no container target: nothing listed");
});
