import { assertEquals, assertThrows } from "../_fixtures/assert.ts";
import {
  agentKey,
  checkHostId,
  containerDocument,
  containerKey,
  normalizePrefix,
  parseContainerKey,
} from "../../lib/sources/document.ts";
import {
  DocumentError,
  parseContainerDocument,
} from "../../lib/sources/document_read.ts";
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
    DocumentError,
    "not JSON",
  );
  assertThrows(
    () => parseContainerDocument("h", "i", '{"version":2}'),
    DocumentError,
    "version",
  );
  assertThrows(
    () => parseContainerDocument("h", "i", '{"version":1,"hostId":"h"}'),
    DocumentError,
    "id: does not match",
  );
});

/** A document as JSON.parse gives it, for changing any field. */
// deno-lint-ignore no-explicit-any
type Doc = Record<string, any>;

/** A good document of host h1, with `change` applied to its parsed JSON. */
function changed(change: (doc: Doc) => void): string {
  const record = container(
    "web",
    labels({ glue_http_80_host: "a.com" }),
    publishes("80/tcp", 8081),
  );
  const doc: Doc = JSON.parse(
    JSON.stringify(containerDocument(record, "h1", "10.0.0.5")),
  );
  change(doc);
  return JSON.stringify(doc);
}

Deno.test("documents: every field is checked, and the error names it", () => {
  const id = container("web").id;
  const cases: [string, (doc: Doc) => void][] = [
    // The injected document of issue 21.
    ["advertiseAddress", (d) => {
      d.advertiseAddress =
        "192.0.2.1:1 check\n    listen injected\n    bind 127.0.0.1:2222\n#";
    }],
    ["advertiseAddress", (d) => d.advertiseAddress = "192.0.2.1 backup"],
    ["advertiseAddress", (d) => d.advertiseAddress = "999.1.1.1"],
    ["advertiseAddress", (d) => d.advertiseAddress = ""],
    // A host name would be resolved by HAProxy at every check: one that does
    // not resolve rejected every host's configuration (issue 31).
    ["advertiseAddress", (d) => d.advertiseAddress = "no-such-host.invalid"],
    ["advertiseAddress", (d) => d.advertiseAddress = "docker1.example.com"],
    ["hostId", (d) => d.hostId = "other"],
    ["name", (d) => d.name = "web\nlisten x"],
    ["image", (d) => d.image = "a b"],
    ["created", (d) => d.created = "yesterday"],
    ["labels.glue_http_80_host", (d) => d.labels.glue_http_80_host = 1],
    ["labels.x\u0000", (d) => d.labels["x\u0000"] = "v"],
    ["state.health", (d) => d.state.health = "fine"],
    ["state.restartCount", (d) => d.state.restartCount = -1],
    ["state.running", (d) => d.state.running = "yes"],
    ["ipAddress", (d) => d.ipAddress = "10.0.0.2 backup"],
    ["networks.bridge", (d) => d.networks = { bridge: "10.0.0.2:80" }],
    ["networks.a b", (d) => d.networks = { "a b": "10.0.0.2" }],
    ["exposedPorts[0]", (d) => d.exposedPorts = ["99999/tcp"]],
    ["exposedPorts[0]", (d) => d.exposedPorts = ["80/tcp\n"]],
    ["publishedPorts[0].hostPort", (d) => d.publishedPorts[0].hostPort = 99999],
    [
      "publishedPorts[0].hostPort",
      (d) => d.publishedPorts[0].hostPort = "8080",
    ],
    ["publishedPorts[0].hostIp", (d) => d.publishedPorts[0].hostIp = "any"],
    ["publishedPorts[0].port", (d) => d.publishedPorts[0].port = "80"],
  ];
  for (const [field, change] of cases) {
    const error = assertThrows(
      () => parseContainerDocument("h1", id, changed(change)),
      DocumentError,
    );
    assertEquals((error as DocumentError).field, field, error.message);
  }
  // IPv6 addresses are addresses too.
  for (const address of ["fd00::5", "192.0.2.10"]) {
    const back = parseContainerDocument(
      "h1",
      id,
      changed((d) => d.advertiseAddress = address),
    );
    assertEquals(back.host?.advertiseAddress, address);
  }
});
