import { assertEquals, assertThrows } from "../_fixtures/assert.ts";
import {
  agentKey,
  checkHostId,
  containerDocument,
  containerKey,
  normalizePrefix,
  parseContainerDocument,
  parseContainerKey,
} from "../../lib/discovery/document.ts";
import {
  container,
  env,
  health,
  labels,
  publishes,
} from "../_fixtures/containers.ts";

Deno.test("keys: layout under the prefix", () => {
  assertEquals(normalizePrefix("docker-glue/"), "/docker-glue");
  assertEquals(
    containerKey("/docker-glue", "web1", "abc123"),
    "/docker-glue/hosts/web1/containers/abc123",
  );
  assertEquals(agentKey("/dg", "web1"), "/dg/hosts/web1/agent");
  assertEquals(parseContainerKey("/dg", "/dg/hosts/web1/containers/abc"), {
    hostId: "web1",
    id: "abc",
  });
  for (
    const other of [
      "/dg/hosts/web1/agent",
      "/dg/hosts/web1/containers/",
      "/other/hosts/a/containers/b",
      "/dg/hosts/a/b/containers/c",
    ]
  ) {
    assertEquals(parseContainerKey("/dg", other), null);
  }
});

Deno.test("keys: host ids are single safe segments", () => {
  assertEquals(checkHostId("docker-1.example.com"), "docker-1.example.com");
  for (const bad of ["", "a/b", "../x", "a b", "-a"]) {
    assertThrows(() => checkHostId(bad), TypeError, "Invalid host id");
  }
});

Deno.test("documents: round trip keeps what routing needs, never the environment", () => {
  const record = container(
    "web",
    labels({ glue_http_80_host: "a.com" }),
    env({ DB_PASSWORD: "secret" }),
    health("healthy"),
    publishes("80/tcp", 8081),
  );
  const doc = containerDocument(record, "h1", "10.0.0.5");
  const text = JSON.stringify(doc);
  assertEquals(text.includes("secret"), false);
  const back = parseContainerDocument("h1", record.id, text);
  assertEquals(back.host, { id: "h1", advertiseAddress: "10.0.0.5" });
  assertEquals(back.labels, record.labels);
  assertEquals(back.env, {});
  assertEquals(back.publishedPorts, record.publishedPorts);
  assertEquals(
    [back.name, back.image, back.created, back.health, back.running],
    [
      record.name,
      record.image,
      record.created,
      "healthy",
      true,
    ],
  );
});

Deno.test("documents: junk is refused with a reason", () => {
  assertThrows(
    () => parseContainerDocument("h", "i", "{"),
    SyntaxError,
    "not JSON",
  );
  assertThrows(
    () => parseContainerDocument("h", "i", '{"version":2}'),
    SyntaxError,
    "version",
  );
  assertThrows(
    () => parseContainerDocument("h", "i", '{"version":1}'),
    SyntaxError,
    "advertiseAddress",
  );
  const odd = parseContainerDocument(
    "h",
    "i",
    '{"version":1,"advertiseAddress":"1.2.3.4","labels":{"a":1,"b":"x"},"publishedPorts":[{"port":"80/tcp","hostPort":"8080"}]}',
  );
  assertEquals(odd.labels, { b: "x" });
  assertEquals(odd.publishedPorts, []);
});
