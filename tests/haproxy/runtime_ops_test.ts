/**
 * Runtime operations as admin-socket commands.
 */

import { assertEquals, assertTrue } from "../_fixtures/assert.ts";
import { commandsFor } from "../../lib/haproxy/runtime_ops.ts";

Deno.test("commands: a certificate goes in through a transaction with its PEM as payload, and out of the crt-list before the store", () => {
  const list = "/etc/haproxy/haproxy.cfg.crt-list";
  const add = commandsFor({
    op: "cert-add",
    crtList: list,
    file: "/c/a.pem",
    pem: "-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----",
  });
  assertEquals(add.map((c) => c.command), [
    "new ssl cert /c/a.pem",
    "set ssl cert /c/a.pem",
    "commit ssl cert /c/a.pem",
    `add ssl crt-list ${list} /c/a.pem`,
  ]);
  assertEquals(add[1]?.payload?.startsWith("-----BEGIN CERTIFICATE"), true);
  // HAProxy 2.6's answers, as seen on the admin socket.
  assertTrue(add[0]!.ok.test("New empty certificate store '/c/a.pem'!"));
  assertTrue(add[2]!.ok.test("Committing /c/a.pem\nSuccess!"));
  assertTrue(!add[2]!.ok.test("Committing /c/a.pem\nError!"));
  const remove = commandsFor({
    op: "cert-remove",
    crtList: list,
    file: "/c/a.pem",
  });
  assertEquals(remove.map((c) => c.command), [
    `del ssl crt-list ${list} /c/a.pem`,
    "del ssl cert /c/a.pem",
  ]);
  assertTrue(
    remove[0]!.ok.test(`Entry '/c/a.pem' deleted in crtlist '${list}'!`),
  );
  assertTrue(remove[1]!.ok.test("Certificate '/c/a.pem' deleted!"));
});
