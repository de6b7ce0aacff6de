import { assertEquals, assertThrows } from "../_fixtures/assert.ts";
import { parseEndpoints } from "../../lib/sources/endpoints.ts";

Deno.test("endpoints: host:port as etcdctl takes it means plain HTTP; URLs are kept", () => {
  assertEquals(
    parseEndpoints(
      "127.0.0.1:2379, http://etcd-1:2379,https://etcd-2.example.com:2379/,[::1]:2379",
    ),
    [
      "http://127.0.0.1:2379",
      "http://etcd-1:2379",
      "https://etcd-2.example.com:2379/",
      "http://[::1]:2379",
    ],
  );
  for (const bad of ["etcd-1", "ftp://etcd:2379", "http://etcd", "a b:2379"]) {
    assertThrows(
      () => parseEndpoints(bad),
      TypeError,
      `Invalid etcd endpoint "${bad}": expected host:port or http://host:port`,
    );
  }
  assertThrows(() => parseEndpoints(" , "), TypeError, "no etcd endpoints");
});
