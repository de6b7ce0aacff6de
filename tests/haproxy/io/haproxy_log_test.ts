/**
 * HAProxy's standard error sorted into log levels: alerts are errors, a
 * stop docker-balancer asked for is not.
 */

import { assertEquals } from "../../_fixtures/assert.ts";
import { readHAProxyLine } from "../../../lib/haproxy/io/haproxy_log.ts";

const level = (raw: string, stopping = false) =>
  readHAProxyLine(raw, stopping)?.level;

Deno.test("haproxy log: a stop we asked for is detail; the same lines otherwise are alarms", () => {
  const stop = [
    "[WARNING]  (10594) : Exiting Master process...",
    "[WARNING]  (10594) : Current worker (10596) exited with code 0 (Exit)",
    "[WARNING]  (10594) : All workers exited. Exiting... (0)",
    "[ALERT]    (10465) : Current worker (10467) exited with code 130 (Interrupt)",
  ];
  assertEquals(stop.map((line) => level(line, true)), [
    "debug",
    "debug",
    "debug",
    "debug",
  ]);
  assertEquals(stop.map((line) => level(line)), [
    "warning",
    "warning",
    "warning",
    "error",
  ]);
  // A worker that dies of something else while we stop is still an alarm.
  assertEquals(
    level(
      "[ALERT]    (1) : Current worker (2) exited with code 139 (Segmentation fault)",
      true,
    ),
    "error",
  );
});

Deno.test("haproxy log: syslog priorities, notices and servers coming up", () => {
  assertEquals(readHAProxyLine("<131>config : something failed", false), {
    line: "config : something failed",
    level: "error",
  });
  assertEquals(level("<132>a warning by priority"), "warning");
  assertEquals(level("[NOTICE]   (1) : Reloading HAProxy"), "debug");
  assertEquals(
    level("[WARNING]  (1) : Server b/s is UP, reason: Layer4 check passed"),
    "info",
  );
  assertEquals(level("   "), undefined);
});
