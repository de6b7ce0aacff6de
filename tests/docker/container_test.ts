import { assertEquals } from "../_fixtures/assert.ts";
import {
  driftOf,
  isServing,
  narrowInspect,
  narrowListed,
} from "../../lib/docker/container.ts";
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

Deno.test("listed: Docker's container list narrowed to what routing depends on", () => {
  const entry = {
    Id: "abc",
    Names: ["/web"],
    State: "running",
    Status: "Up 3 seconds (healthy)",
    Labels: { glue_http_80_host: "x.example.com" },
    NetworkSettings: { Networks: { demo: { IPAddress: "172.28.0.2" } } },
  };
  assertEquals(narrowListed(entry), {
    id: "abc",
    name: "web",
    paused: false,
    health: "healthy",
    labels: { glue_http_80_host: "x.example.com" },
    networks: { demo: "172.28.0.2" },
  });
  assertEquals(
    narrowListed({ ...entry, Status: "Up 1 second (health: starting)" })
      .health,
    "starting",
  );
  assertEquals(
    narrowListed({ ...entry, State: "paused", Status: "Up 3 seconds (Paused)" })
      .paused,
    true,
  );
  assertEquals(narrowListed({ Id: "x", Labels: null }).labels, {});
});

Deno.test("drift: lost pause, health, label and network events are found; agreement is none", () => {
  const record = narrowInspect({
    Id: "abc",
    Name: "/web",
    Config: { Labels: { glue_http_80_host: "x.example.com" } },
    State: { Running: true, Paused: false, Health: { Status: "healthy" } },
    NetworkSettings: { Networks: { demo: { IPAddress: "172.28.0.2" } } },
  });
  const listed = {
    id: "abc",
    name: "web",
    paused: false,
    health: "healthy" as const,
    labels: { glue_http_80_host: "x.example.com" },
    networks: { demo: "172.28.0.2" },
  };
  assertEquals(driftOf([record], [listed]), []);
  assertEquals(driftOf([record], [{ ...listed, paused: true }]), [
    "web: pause state",
  ]);
  assertEquals(driftOf([record], [{ ...listed, health: "unhealthy" }]), [
    "web: health",
  ]);
  assertEquals(
    driftOf([record], [{
      ...listed,
      networks: { ...listed.networks, b: "10.0.0.2" },
    }]),
    ["web: networks"],
  );
  assertEquals(driftOf([record], [{ ...listed, labels: {} }]), ["web: labels"]);
  assertEquals(driftOf([record], []), ["web: known, not running"]);
  assertEquals(driftOf([], [listed]), ["web: running, not known"]);
  // A paused container's status hides its health: that is no drift.
  assertEquals(
    driftOf([{ ...record, paused: true }], [{
      ...listed,
      paused: true,
      health: "none",
    }]),
    [],
  );
});
