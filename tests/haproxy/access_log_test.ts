import { assertEquals, assertThrows } from "../_fixtures/assert.ts";
import {
  haproxyLogTarget,
  parseAccessLog,
} from "../../lib/haproxy/access_log.ts";

Deno.test("access log: stdout, a file, or a syslog address; anything else is refused naming the value", () => {
  assertEquals(parseAccessLog(""), undefined);
  assertEquals(parseAccessLog(" stdout "), { kind: "stdout" });
  assertEquals(parseAccessLog("/var/log/docker-balancer/a.log"), {
    kind: "file",
    path: "/var/log/docker-balancer/a.log",
  });
  assertEquals(parseAccessLog("syslog:127.0.0.1:514"), {
    kind: "syslog",
    address: "127.0.0.1:514",
  });
  assertEquals(parseAccessLog("syslog:[::1]:514"), {
    kind: "syslog",
    address: "[::1]:514",
  });
  assertEquals(parseAccessLog("syslog:/dev/log"), {
    kind: "syslog",
    address: "/dev/log",
  });
  for (
    const bad of [
      "access.log",
      "/var/log/",
      "syslog:logs.example.com:514",
      "syslog:127.0.0.1",
      "syslog:127.0.0.1:70000",
      "syslog:/dev/log x",
      "stderr",
    ]
  ) {
    assertThrows(() => parseAccessLog(bad), Error, JSON.stringify(bad));
  }
});

Deno.test("access log: HAProxy writes a file's and stdout's lines raw on its standard output, a syslog address's to it", () => {
  assertEquals(
    haproxyLogTarget({ kind: "file", path: "/x.log" }),
    "stdout format raw local0 info",
  );
  assertEquals(
    haproxyLogTarget({ kind: "stdout" }),
    "stdout format raw local0 info",
  );
  assertEquals(
    haproxyLogTarget({ kind: "syslog", address: "127.0.0.1:514" }),
    "127.0.0.1:514 local0 info",
  );
});
