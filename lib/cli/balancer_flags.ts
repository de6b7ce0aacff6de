/**
 * docker-balancer's command line: its flags, and the typed settings they
 * become (once, here; lib/haproxy/settings.ts checks them).
 *
 * @module
 */

import { checkAccess } from "../sources/etcd_access.ts";
import type { Command } from "commander";
import {
  acmeSettings,
  HAPROXY_DEFAULTS,
  parseCheckTimeout,
  parseHardStopAfter,
  parseMode,
  parseTrustedProxies,
} from "../haproxy/settings.ts";
import {
  DEFAULT_ETCD_ENDPOINTS,
  DEFAULT_ETCD_PREFIX,
  parseEndpoints,
} from "../sources/endpoints.ts";
import { parseDebounce } from "../util/debounce.ts";
import { parseAccessLog } from "../haproxy/access_log.ts";
import { baseProgram, commonOptions } from "./program.ts";
import { type BalancerSettings, DEFAULT_WATCH_SET } from "./service.ts";
import { parseGrace, parseSourceKind, withRemotes } from "../sources/wiring.ts";
import { engineAddresses, splitUrls } from "../docker/engine_url.ts";

/** The program's name, in messages. */
export const PROGRAM = "docker-balancer";

/** The flags as commander gives them. */
export interface Flags {
  once?: boolean;
  watch?: boolean;
  watchSet: string;
  templateDir?: string;
  templateFile?: string;
  configFile: string;
  rc?: string;
  includeEnv?: boolean;
  dockerUrl?: string[];
  dockerGrace: string;
  haproxy?: string;
  reloadCmd?: string;
  haproxyBin: string;
  network?: string;
  perPortFrontends?: boolean;
  debounce: string;
  checkTimeout: string;
  hardStopAfter: string;
  trustedProxies: string;
  proxyProtocol?: boolean;
  accessLog: string;
  errorPages: string;
  dryRun?: boolean;
  diff?: boolean;
  httpBind: string;
  statsBind: string;
  tcpBindAddress: string;
  statsSocket: string;
  httpsBind?: string;
  tlsCertDir: string;
  backendCaFile?: string;
  acmeDirectory?: string;
  acmeEmail?: string;
  acmeCaFile?: string;
  acmeBackoff: string;
  acmeOrdersPerHour: string;
  acmeDnsHook?: string;
  acmeChallenge: string;
  source: string;
  etcdEndpoints: string;
  etcdPrefix: string;
  etcdCacert?: string;
  etcdCert?: string;
  etcdKey?: string;
  etcdUser?: string;
  etcdPasswordFile?: string;
  logLevel: string;
  metricsListen?: string;
  /** `--metrics-auth`: the status page's login file. */
  metricsAuth?: string;
}

/** The program and its flags. */
export function program(): Command {
  return commonOptions(
    baseProgram(
      PROGRAM,
      "Route HTTP traffic to containers by their glue_http_* labels through HAProxy. `docker-balancer routes [flags]` shows what is routed, and why a container is not.",
    )
      .option("-1, --once", "render and apply once, then exit")
      .option("-w, --watch", "render, then follow Docker events")
      .option(
        "--watch-set <events>",
        "container events that trigger a re-render",
        DEFAULT_WATCH_SET,
      )
      .option(
        "--template-dir <dirs>",
        "template search path, ':'-separated (leading ':' appends to the default path, trailing ':' prepends)",
      )
      .option("--template-file <name>", "template to render", "haproxy.cfg.njk")
      .option(
        "--config-file <path>",
        "HAProxy configuration to write",
        HAPROXY_DEFAULTS.configFile,
      )
      .option(
        "--rc <file>",
        "rc file whose EXTRAOPTS/OPTIONS are passed to haproxy -c (default: /etc/default/haproxy or /etc/sysconfig/haproxy if present)",
      )
      .option(
        "--include-env",
        "treat container environment variables as labels too (labels win)",
      )
      .option(
        "--haproxy <mode>",
        "managed: start, supervise and reload HAProxy ourselves (the default with -w); external: HAProxy runs elsewhere and --reload-cmd reloads it (the default with -1 or --reload-cmd)",
      )
      .option(
        "--reload-cmd <cmd>",
        `command that reloads an external HAProxy, run without a shell; '' to skip (default: "${HAPROXY_DEFAULTS.reloadCmd}")`,
      )
      .option(
        "--haproxy-bin <path>",
        "haproxy executable used to validate",
        HAPROXY_DEFAULTS.haproxyBin,
      )
      .option(
        "--per-port-frontends",
        "as the original did: an HTTP frontend on each port the glue_http_<port>_* labels name, at the --http-bind addresses",
      )
      .option(
        "--network <name>",
        "preferred Docker network for container addresses",
      )
      .option(
        "--debounce <quiet[:max]>",
        "a change that needs a reload waits for this quiet time (at most max after the burst began); other changes apply at once; 0 to never wait",
        HAPROXY_DEFAULTS.debounce,
      )
      .option(
        "--check-timeout <duration>",
        "how long haproxy -c and the reload command may run before they are stopped (and the file taken as rejected)",
        HAPROXY_DEFAULTS.checkTimeout,
      )
      .option(
        "--hard-stop-after <duration>",
        "after a reload, an old HAProxy worker keeps its long-lived connections (WebSockets) at most this long; 0 for as long as they last",
        HAPROXY_DEFAULTS.hardStopAfter,
      )
      .option(
        "--trusted-proxies <cidrs>",
        "comma list of addresses and ranges (load balancers, CDNs) whose X-Forwarded-For is believed: the client is the rightmost address not among them; everyone else's X-Forwarded-For is removed",
        "",
      )
      .option(
        "--proxy-protocol",
        "connections from --trusted-proxies send a PROXY header (v1 or v2) on the HTTP, HTTPS and TCP listeners",
      )
      .option(
        "--access-log <target>",
        "one JSON object per request and TCP connection, with the container's name and a request id: stdout, the absolute path of a file (reopened on SIGUSR1; managed HAProxy), or syslog:IP:PORT / syslog:/dev/log",
        "",
      )
      .option(
        "--error-pages <dir>",
        "a directory with 404.html (a host no route serves), 503.html (no server up), 502.html and 504.html; a page missing keeps HAProxy's",
        "",
      )
      .option(
        "--dry-run",
        "print the configuration to standard output; write and reload nothing",
      )
      .option(
        "--diff",
        "with -1 --dry-run: validate with haproxy -c and print a unified diff against the installed files, and the runtime commands that would replace a reload; exit 0 no change, 3 change without reload, 4 change with reload, 1 error",
      )
      .option(
        "--http-bind <addrs>",
        "bind address(es) of the HTTP frontend, comma-separated",
        HAPROXY_DEFAULTS.httpBind,
      )
      .option(
        "--stats-bind <addr>",
        "bind address of the stats page; '' for none",
        HAPROXY_DEFAULTS.statsBind,
      )
      .option(
        "--tcp-bind-address <addr>",
        "address the TCP frontends (glue_tcp_ports) listen on; * for all",
        HAPROXY_DEFAULTS.tcpBindAddress,
      )
      .option(
        "--stats-socket <path>",
        "HAProxy admin socket, with expose-fd listeners for seamless reloads; '' for none",
        HAPROXY_DEFAULTS.statsSocket,
      )
      .option(
        "--https-bind <addrs>",
        "bind address(es) of the HTTPS frontend, comma-separated, such as *:443; off unless given",
      )
      .option(
        "--tls-cert-dir <dir>",
        "PEM files (certificate chain and key in one file) the HTTPS frontend serves by SNI; default.pem is served when no name matches",
        HAPROXY_DEFAULTS.tlsCertDir,
      )
      .option(
        "--backend-ca-file <file>",
        "PEM CA certificates that containers labelled scheme=https must chain to (checked by HAProxy); without it their TLS is not verified",
      )
      .option(
        "--acme-directory <url>",
        "ACME directory URL: get certificates for the hosts of routes labelled tls, by HTTP-01",
      )
      .option("--acme-email <address>", "contact address of the ACME account")
      .option(
        "--acme-ca-file <file>",
        "PEM CA certificates to trust for the ACME server's own TLS (a private CA)",
      )
      .option(
        "--acme-backoff <base[:max]>",
        "wait after a failed ACME request, doubling up to max",
        HAPROXY_DEFAULTS.acmeBackoff,
      )
      .option(
        "--acme-orders-per-hour <n>",
        "most new ACME orders in any hour, across all names",
        HAPROXY_DEFAULTS.acmeOrdersPerHour,
      )
      .option(
        "--acme-dns-hook <program>",
        "DNS-01: run as <program> present|cleanup <fqdn> <value> (lego's exec convention); wildcard hosts get certificates with it",
      )
      .option(
        "--acme-challenge <type>",
        "challenge for names that are not wildcards: http-01, or dns-01 (with --acme-dns-hook)",
        "http-01",
      )
      .option(
        "--docker-grace <seconds>",
        "how long the containers of another host's engine that cannot be reached stay routed",
        "30s",
      )
      .option(
        "--source <source>",
        "where containers come from: docker (this host's engine), swarm (this node's tasks of Swarm services labelled glue_*; a manager node) or etcd (published by docker-glue agents)",
        "docker",
      )
      .option(
        "--etcd-endpoints <urls>",
        "etcd endpoints for --source etcd, comma-separated",
        DEFAULT_ETCD_ENDPOINTS,
      )
      .option(
        "--etcd-prefix <prefix>",
        "key prefix the agents publish under",
        DEFAULT_ETCD_PREFIX,
      )
      .option(
        "--etcd-cacert <file>",
        "CA bundle the etcd endpoints' certificates are checked against (https:// endpoints)",
      )
      .option(
        "--etcd-cert <file>",
        "client certificate for etcd's --client-cert-auth (with --etcd-key)",
      )
      .option("--etcd-key <file>", "the client certificate's private key")
      .option(
        "--etcd-user <name>",
        "etcd user, for etcd with auth enabled (with --etcd-password-file)",
      )
      .option(
        "--etcd-password-file <file>",
        "file whose first line is the etcd user's password (mode 600)",
      ),
  );
}

/**
 * The settings the flags give.
 *
 * @throws {SettingsError} naming the flag at fault.
 */
export function settingsFromFlags(flags: Flags): BalancerSettings {
  const source = parseSourceKind(flags.source);
  const remotes = engineAddresses(
    splitUrls(flags.dockerUrl),
    (name) => Deno.env.get(name),
  ).slice(1);
  return {
    haproxy: {
      templateDir: flags.templateDir,
      templateFile: flags.templateFile,
      configFile: flags.configFile,
      rc: flags.rc,
      // -1 writes the file for whoever runs HAProxy; only -w can run it.
      // --diff compares with what a -w daemon wrote, so it takes -w's default.
      mode: flags.once && flags.haproxy === undefined && !flags.diff
        ? "external"
        : parseMode(flags.haproxy, flags.reloadCmd !== undefined),
      reloadCmd: flags.reloadCmd ?? HAPROXY_DEFAULTS.reloadCmd,
      haproxyBin: flags.haproxyBin,
      network: flags.network,
      perPortFrontends: flags.perPortFrontends === true,
      includeEnv: flags.includeEnv === true,
      httpBind: flags.httpBind,
      statsBind: flags.statsBind,
      tcpBindAddress: flags.tcpBindAddress,
      statsSocket: flags.statsSocket,
      httpsBind: flags.httpsBind,
      tlsCertDir: flags.tlsCertDir,
      backendCaFile: flags.backendCaFile,
      acme: acmeSettings({
        directory: flags.acmeDirectory,
        email: flags.acmeEmail,
        caFile: flags.acmeCaFile,
        backoff: flags.acmeBackoff,
        ordersPerHour: flags.acmeOrdersPerHour,
        dnsHook: flags.acmeDnsHook,
        challenge: flags.acmeChallenge,
      }),
      dryRun: flags.dryRun === true,
      diff: flags.diff === true,
      once: flags.once === true,
      debounce: parseDebounce(flags.debounce),
      checkTimeoutMs: parseCheckTimeout(flags.checkTimeout),
      hardStopAfter: parseHardStopAfter(flags.hardStopAfter),
      trustedProxies: parseTrustedProxies(flags.trustedProxies),
      proxyProtocol: flags.proxyProtocol === true,
      accessLog: parseAccessLog(flags.accessLog),
      errorPages: flags.errorPages.trim() || undefined,
    },
    source: withRemotes(
      source === "docker" || source === "swarm" ? { kind: source } : {
        kind: "etcd",
        endpoints: parseEndpoints(flags.etcdEndpoints),
        prefix: flags.etcdPrefix,
        access: checkAccess({
          caFile: flags.etcdCacert,
          certFile: flags.etcdCert,
          keyFile: flags.etcdKey,
          user: flags.etcdUser,
          passwordFile: flags.etcdPasswordFile,
        }, "--etcd-cert, --etcd-key, --etcd-user, --etcd-password-file"),
      },
      remotes,
      parseGrace(flags.dockerGrace),
    ),
  };
}
