import { assertEquals } from "../_fixtures/assert.ts";
import { isServing, narrowInspect } from "../../lib/docker/container.ts";
import { container, health, paused, stopped } from "../_fixtures/containers.ts";

const inspect = JSON.parse(
  await Deno.readTextFile(new URL("./inspect_compose.json", import.meta.url)),
);

Deno.test("container: narrows a compose container's inspect document", () => {
  const record = narrowInspect(inspect);
  assertEquals(record.name, "shop-web-1");
  assertEquals(record.labels["glue_http_80_host"], "shop.example.com");
  assertEquals(record.env, { PATH: "/bin", NAME: "a=b" });
  assertEquals(record.exposedPorts, ["443/tcp", "80/tcp"]);
  assertEquals(record.image, "shop/web:2.1");
  assertEquals(record.publishedPorts, [
    { port: "80/tcp", hostIp: "0.0.0.0", hostPort: 8081 },
    { port: "80/tcp", hostIp: "::", hostPort: 8081 },
  ]);
  assertEquals(record.ipAddress, "");
  assertEquals(record.networks, { shop_default: "172.22.0.3" });
  assertEquals([record.running, record.paused, record.health], [
    true,
    false,
    "healthy",
  ]);
});

Deno.test("container: null fields from Docker become empty values", () => {
  const record = narrowInspect({
    Id: "abc",
    Name: "/bare",
    Config: { Labels: null, Env: null, ExposedPorts: null },
    NetworkSettings: { IPAddress: "", Networks: { none: { IPAddress: "" } } },
    State: { Running: true, Paused: false, Health: null },
  });
  assertEquals(record.labels, {});
  assertEquals(record.env, {});
  assertEquals(record.exposedPorts, []);
  assertEquals(record.networks, {});
  assertEquals(record.health, "none");
  assertEquals(narrowInspect(null).id, "");
});

Deno.test("container: serving means running, not paused, healthy if checked", () => {
  assertEquals(isServing(container("a")), true);
  assertEquals(isServing(container("a", health("healthy"))), true);
  assertEquals(isServing(container("a", health("starting"))), false);
  assertEquals(isServing(container("a", health("unhealthy"))), false);
  assertEquals(isServing(container("a", paused())), false);
  assertEquals(isServing(container("a", stopped())), false);
});
