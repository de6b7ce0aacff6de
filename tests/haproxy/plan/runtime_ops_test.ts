/**
 * Runtime operations as admin-socket commands, and their check against a
 * real HAProxy.
 */

import { assertEquals, assertTrue } from "../../_fixtures/assert.ts";
import {
  applyOps,
  commandsFor,
} from "../../../lib/haproxy/plan/runtime_ops.ts";
import { AdminSocket, RuntimeError } from "../../../lib/haproxy/io/runtime.ts";

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

/**
 * Runs HAProxy with a map of `size` entries (`a<n>.example.com hosts_1`)
 * and checks a map change against it: listed whole when the map is small,
 * looked up key by key when it is large.
 */
async function mapChange(size: number): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "docker-glue-ops-" });
  const socket = `${dir}/admin.sock`;
  const map = `${dir}/hosts.map`;
  const sorted = (entries: [string, string][]) =>
    entries.sort(([a], [b]) => a < b ? -1 : 1);
  const initial = sorted(
    Array.from({ length: size }, (_, i) => [`a${i}.example.com`, "hosts_1"]),
  );
  await Deno.writeTextFile(
    map,
    initial.map(([k, v]) => `${k} ${v}\n`).join(""),
  );
  await Deno.writeTextFile(
    `${dir}/haproxy.cfg`,
    `global\n  stats socket ${socket} mode 600 level admin\n` +
      "defaults\n  mode http\n  timeout client 5s\n  timeout server 5s\n" +
      "  timeout connect 1s\nfrontend f\n" +
      `  bind unix@${dir}/http.sock\n` +
      `  use_backend %[req.hdr(host),lower,map(${map},hosts_1)]\n` +
      "backend hosts_1\nbackend hosts_2\n",
  );
  const haproxy = new Deno.Command("haproxy", {
    args: ["-db", "-f", `${dir}/haproxy.cfg`],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    for (let i = 0; i < 100; i++) {
      if (await Deno.stat(socket).then(() => true, () => false)) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const admin = new AdminSocket(socket);
    const add = {
      op: "map",
      file: map,
      key: "b.example.com",
      value: "hosts_2",
      existed: false,
    } as const;
    const both = sorted([...initial, ["b.example.com", "hosts_2"]]);
    await applyOps(admin, [add], { maps: [{ file: map, entries: both }] });
    assertEquals(await admin.mapEntry(map, "b.example.com"), "hosts_2");
    assertEquals(await admin.mapEntry(map, "c.example.com"), null);
    // What HAProxy holds is not the plan: the change is not taken as done.
    const error = await applyOps(
      admin,
      [{ ...add, key: "c.example.com", value: "hosts_1" }],
      { maps: [{ file: map, entries: both }] },
    ).then(() => null, (e: Error) => e);
    assertTrue(error instanceof RuntimeError, String(error));
    assertTrue(/differs from the plan/.test(error.message), error.message);
    // A removal is checked too: the key is gone.
    const [first] = initial;
    const after = sorted([
      ...both.filter(([key]) => key !== first![0]),
      ["c.example.com", "hosts_1"],
    ]);
    await applyOps(
      admin,
      [{ op: "map", file: map, key: first![0], value: null, existed: true }],
      { maps: [{ file: map, entries: after }] },
    );
    assertEquals(await admin.mapEntry(map, first![0]), null);
  } finally {
    haproxy.kill("SIGTERM");
    await haproxy.status;
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("apply: a map change is checked against what a real HAProxy then holds, the map listed whole", async () => {
  await mapChange(1);
});

Deno.test("apply: the same for a large map, looked up key by key", async () => {
  await mapChange(600);
});
