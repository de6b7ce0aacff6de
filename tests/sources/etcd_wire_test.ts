/**
 * The gateway's JSON, as etcd 3.4 sends it (the messages below were
 * captured from a real etcd 3.4.23).
 */

import { assertEquals, assertThrows } from "../_fixtures/assert.ts";
import {
  decodeKey,
  encodeKey,
  grantedLease,
  headerRevision,
  keptAliveTtl,
  nextRevision,
  parseWatchLine,
  prefixRangeEnd,
  rangeKeyValues,
  responseError,
} from "../../lib/sources/etcd_wire.ts";

const HEADER =
  '"header":{"cluster_id":"14443903163313418560","member_id":"11417610130673999598","revision":"5","raft_term":"2"}';

function bytes(base64: string): number[] {
  return [...atob(base64)].map((c) => c.charCodeAt(0));
}

Deno.test("etcd wire: keys round-trip through base64 as UTF-8", () => {
  for (const key of ["/docker-glue/hosts/a", "", "/ümlaut/日本", "a\nb"]) {
    assertEquals(decodeKey(encodeKey(key)), key);
  }
  assertEquals(encodeKey("/p/a"), "L3AvYQ==");
  assertThrows(() => decodeKey("%%%"), TypeError, "invalid base64");
  // 0xff alone is not UTF-8.
  assertThrows(() => decodeKey("/w=="), TypeError, "not UTF-8");
});

Deno.test("etcd wire: a prefix range ends just past the prefix", () => {
  assertEquals(bytes(prefixRangeEnd("/p/")), [
    ...new TextEncoder().encode("/p0"),
  ]);
  assertEquals(
    atob(prefixRangeEnd("/docker-glue/hosts/")),
    "/docker-glue/hosts0",
  );
  // A multi-byte last character: its last byte is incremented.
  assertEquals(bytes(prefixRangeEnd("é")), [0xc3, 0xaa]);
  // No prefix: to the end of the keyspace.
  assertEquals(bytes(prefixRangeEnd("")), [0]);
});

Deno.test("etcd wire: range answers, with and without keys", () => {
  const full = JSON.parse(
    `{${HEADER},"kvs":[{"key":"L3AvYQ==","create_revision":"2","mod_revision":"2","version":"1","value":"aGVsbG8=","lease":"2228897010878924551"}],"count":"1"}`,
  );
  assertEquals(rangeKeyValues(full), [
    { key: "/p/a", value: "hello", lease: "2228897010878924551" },
  ]);
  assertEquals(headerRevision(full), "5");
  // No keys: etcd leaves out kvs and count altogether.
  assertEquals(rangeKeyValues(JSON.parse(`{${HEADER}}`)), []);
  // An empty value is left out too.
  assertEquals(
    rangeKeyValues({ kvs: [{ key: "L3AvYQ==" }] }),
    [{ key: "/p/a", value: "", lease: "" }],
  );
  assertThrows(() => rangeKeyValues({ kvs: "x" }), TypeError, "not a list");
  assertThrows(() => rangeKeyValues(null), TypeError, "not a JSON object");
});

Deno.test("etcd wire: revisions keep all their digits", () => {
  assertEquals(nextRevision("5"), "6");
  assertEquals(nextRevision("9007199254740993"), "9007199254740994");
  assertEquals(headerRevision({}), "0");
});

Deno.test("etcd wire: leases granted, kept alive, or gone", () => {
  assertEquals(
    grantedLease(
      JSON.parse(`{${HEADER},"ID":"2228897010878924549","TTL":"5"}`),
    ),
    { id: "2228897010878924549", ttl: 5 },
  );
  assertThrows(
    () => grantedLease(JSON.parse(`{${HEADER}}`)),
    TypeError,
    "without an id",
  );
  assertEquals(
    keptAliveTtl(
      JSON.parse(`{"result":{${HEADER},"ID":"2228897010878924551","TTL":"5"}}`),
    ),
    5,
  );
  // A lease etcd does not know comes back without a TTL.
  assertEquals(
    keptAliveTtl(JSON.parse(`{"result":{${HEADER},"ID":"123"}}`)),
    0,
  );
});

Deno.test("etcd wire: errors carry etcd's message and code", () => {
  assertEquals(
    responseError(JSON.parse(
      '{"error":"etcdserver: requested lease not found","message":"etcdserver: requested lease not found","code":5}',
    )),
    { message: "etcdserver: requested lease not found", code: 5 },
  );
  assertEquals(
    responseError({ error: { grpc_code: 14, message: "unavailable" } }),
    { message: "unavailable", code: 14 },
  );
  assertEquals(responseError(JSON.parse(`{${HEADER}}`)), null);
});

Deno.test("etcd wire: watch messages", () => {
  assertEquals(
    parseWatchLine(`{"result":{${HEADER},"created":true}}`),
    { kind: "created" },
  );
  // A put has no type (PUT is the default); a delete has no value.
  assertEquals(
    parseWatchLine(
      `{"result":{${HEADER},"events":[{"kv":{"key":"L3AvYQ==","create_revision":"2","mod_revision":"2","version":"1","value":"aGVsbG8="}},{"type":"DELETE","kv":{"key":"L3AvYQ==","mod_revision":"3"}}]}}`,
    ),
    {
      kind: "events",
      events: [
        { type: "put", key: "/p/a", value: "hello" },
        { type: "delete", key: "/p/a", value: "" },
      ],
    },
  );
  assertEquals(
    parseWatchLine(
      '{"result":{"header":{"raft_term":"2"},"canceled":true,"compact_revision":"5"}}',
    ),
    { kind: "canceled", reason: "history compacted up to revision 5" },
  );
  assertEquals(
    parseWatchLine(
      '{"error":{"grpc_code":14,"message":"etcdserver: no leader"}}',
    ),
    { kind: "canceled", reason: "etcdserver: no leader" },
  );
  assertEquals(parseWatchLine(`{"result":{${HEADER}}}`), { kind: "other" });
  assertThrows(() => parseWatchLine("<html>"), TypeError, "not JSON: <html>");
});
