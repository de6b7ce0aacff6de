/**
 * The HAProxy handler's INI params carry HTTPS and ACME settings the way
 * docker-balancer's flags do, and a bad combination names the param.
 */

import {
  assertEquals,
  assertIncludes,
  assertThrows,
} from "../_fixtures/assert.ts";
import { settingsFromParams } from "../../handlers/haproxy.ts";
import { checkSettings } from "../../lib/haproxy/settings.ts";

const from = (params: Record<string, string>) =>
  settingsFromParams((name) => params[name]);

Deno.test("haproxy params: https_bind, tls_cert_dir and the acme_* params become typed settings", () => {
  const { haproxy } = from({
    https_bind: "*:443",
    tls_cert_dir: "/etc/haproxy/certs",
    acme_directory: "https://acme-v02.api.letsencrypt.org/directory",
    acme_email: "ops@example.com",
    acme_backoff: "30s:1h",
    acme_orders_per_hour: "12",
    acme_dns_hook: "/usr/local/bin/dns-hook",
    acme_challenge: "dns-01",
  });
  assertEquals(haproxy.httpsBind, "*:443");
  assertEquals(haproxy.tlsCertDir, "/etc/haproxy/certs");
  assertEquals(haproxy.acme, {
    directoryUrl: "https://acme-v02.api.letsencrypt.org/directory",
    email: "ops@example.com",
    caFile: undefined,
    backoff: { baseMs: 30_000, maxMs: 3_600_000 },
    ordersPerHour: 12,
    dnsHook: "/usr/local/bin/dns-hook",
    challenge: "dns-01",
  });
  assertEquals(from({}).haproxy.acme, undefined);
});

Deno.test("haproxy params: ACME without an email, or a bad back-off, names the param", () => {
  const noEmail = assertThrows(
    () => from({ acme_directory: "https://ca.example/dir" }),
    TypeError,
    "[params] acme_directory",
  );
  assertIncludes(noEmail.message, "--acme-email");
  const acme = {
    acme_directory: "https://ca.example/dir",
    acme_email: "ops@example.com",
  };
  assertThrows(
    () => from({ ...acme, acme_challenge: "dns-01" }),
    TypeError,
    "dns-01 needs --acme-dns-hook",
  );
  assertThrows(
    () => from({ ...acme, acme_dns_hook: "dns-hook.sh" }),
    TypeError,
    'Invalid ACME DNS hook "dns-hook.sh": expected an absolute path',
  );
  assertThrows(
    () =>
      from({
        acme_directory: "https://ca.example/dir",
        acme_email: "ops@example.com",
        acme_backoff: "soon",
      }),
    TypeError,
    "Invalid ACME back-off",
  );
});

Deno.test("haproxy params: docker_urls are other hosts' engines beside the agent's own, with docker_grace; a bad one names the param", () => {
  const { source } = from({
    docker_urls:
      "tcp://192.0.2.11:2376?certpath=/etc/docker-glue/web2, tcp://192.0.2.12:2376",
    docker_grace: "5s",
  });
  assertEquals(source.kind, "docker");
  if (source.kind !== "docker") return;
  assertEquals(source.remotes?.map((e) => [e.name, e.address]), [
    ["192.0.2.11", "192.0.2.11"],
    ["192.0.2.12", "192.0.2.12"],
  ]);
  assertEquals(source.graceMs, 5000);
  assertEquals(from({}).source, { kind: "docker" });
  assertThrows(
    () => from({ docker_urls: "tcp://docker2.lan:2376" }),
    TypeError,
    '[params] docker_urls: Docker URL "tcp://docker2.lan:2376": the address its published ports are reached on is not an IP address',
  );
  assertThrows(
    () => from({ docker_urls: "tcp://192.0.2.11:2376", source: "etcd" }),
    TypeError,
    "Several Docker engines need the docker source, not etcd",
  );
});

Deno.test("haproxy params: check_timeout bounds haproxy -c and the reload command as --check-timeout does; a bad one names the param", () => {
  assertEquals(from({}).haproxy.checkTimeoutMs, 30_000);
  assertEquals(from({ check_timeout: "2s" }).haproxy.checkTimeoutMs, 2000);
  for (const bad of ["0s", "500ms", "11m", "soon"]) {
    assertThrows(
      () => from({ check_timeout: bad }),
      Error,
      "check_timeout",
    );
  }
});

Deno.test("haproxy params: trusted_proxies, proxy_protocol and hard_stop_after are read as the flags are, and checked", () => {
  const { haproxy } = from({
    trusted_proxies: "10.0.0.0/8, 2001:db8::/32,192.0.2.1",
    proxy_protocol: "1",
    hard_stop_after: "30m",
  });
  assertEquals(haproxy.trustedProxies, [
    "10.0.0.0/8",
    "2001:db8::/32",
    "192.0.2.1",
  ]);
  assertEquals(haproxy.proxyProtocol, true);
  assertEquals(haproxy.hardStopAfter, "30m");
  assertEquals(from({}).haproxy.trustedProxies, []);
  assertEquals(from({}).haproxy.hardStopAfter, "1h");
  assertEquals(from({ hard_stop_after: "0" }).haproxy.hardStopAfter, "");
  assertThrows(
    () => from({ trusted_proxies: "10.0.0.0/33" }),
    TypeError,
    "[params] trusted_proxies",
  );
  assertThrows(
    () => from({ hard_stop_after: "1 h" }),
    TypeError,
    "[params] hard_stop_after",
  );
  assertThrows(
    () => checkSettings(from({ proxy_protocol: "1" }).haproxy),
    Error,
    "--proxy-protocol needs --trusted-proxies",
  );
});

Deno.test("haproxy params: access_log is read as --access-log is; a file needs a managed HAProxy", () => {
  assertEquals(from({}).haproxy.accessLog, undefined);
  assertEquals(from({ access_log: "stdout" }).haproxy.accessLog, {
    kind: "stdout",
  });
  assertEquals(
    from({ access_log: "/var/log/docker-balancer/access.log" }).haproxy
      .accessLog,
    { kind: "file", path: "/var/log/docker-balancer/access.log" },
  );
  assertThrows(
    () => from({ access_log: "access.log" }),
    TypeError,
    "[params] access_log",
  );
  assertThrows(
    () =>
      checkSettings(
        from({
          access_log: "/var/log/docker-balancer/access.log",
          haproxy: "external",
          reload_cmd: "systemctl reload haproxy",
        }).haproxy,
      ),
    Error,
    "needs a managed HAProxy",
  );
});

Deno.test("haproxy params: error_pages is --error-pages", () => {
  assertEquals(from({}).haproxy.errorPages, undefined);
  assertEquals(
    from({ error_pages: "/etc/docker-glue/error-pages" }).haproxy.errorPages,
    "/etc/docker-glue/error-pages",
  );
});
