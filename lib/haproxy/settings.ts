/**
 * HAProxy settings: as the operator gives them (flags or INI params), and
 * checked once into the typed form the engine and `routes` take. Pure: no
 * file is read and nothing runs.
 *
 * @module
 */

import { SettingsError } from "../util/settings_error.ts";
import { errorMessage } from "../util/error_message.ts";
import type { RouteOptions } from "../routing/claims.ts";
import type { DebounceTiming } from "../util/debounce.ts";
import { durationMs } from "../util/duration.ts";
import { splitArgs } from "../util/argv.ts";
import { parseAllow } from "../routing/route_options.ts";
import type { MapFiles } from "./render/render.ts";
import type { AcmeSettings } from "../acme/manager.ts";
import type { AccessLogTarget } from "./access_log.ts";
import {
  parseBackoff,
  parseChallenge,
  parseOrdersPerHour,
} from "../acme/policy.ts";

/** HAProxy settings as the operator gives them. */
export interface HAProxySettings {
  /** `--template-dir`, `:`-separated. */
  readonly templateDir?: string | undefined;
  /** `--template-file`. */
  readonly templateFile?: string | undefined;
  /** `--config-file`. */
  readonly configFile: string;
  /** `--rc`; undefined means the first default rc file that exists. */
  readonly rc?: string | undefined;
  /**
   * `--haproxy`: `managed` starts, supervises and reloads HAProxy itself;
   * `external` writes the file for an HAProxy run by someone else and
   * reloads it with `reloadCmd`.
   */
  readonly mode: HAProxyMode;
  /** `--reload-cmd` as one string (external mode); "" disables reloading. */
  readonly reloadCmd: string;
  /** `--haproxy-bin`. */
  readonly haproxyBin: string;
  /** `--network`. */
  readonly network?: string | undefined;
  /** `--include-env`. */
  readonly includeEnv: boolean;
  /** `--http-bind`, comma-separated. */
  readonly httpBind: string;
  /** `--stats-bind`; "" for no stats listener. */
  readonly statsBind: string;
  /** `--tcp-bind-address`: where TCP frontends listen, `*` for all. */
  readonly tcpBindAddress: string;
  /** `--stats-socket`: HAProxy's admin socket, "" for none. */
  readonly statsSocket?: string;
  /** `--https-bind`, comma-separated; "" or absent for no HTTPS frontend. */
  readonly httpsBind?: string | undefined;
  /** `--tls-cert-dir`: the certificates the HTTPS frontend serves. */
  readonly tlsCertDir?: string | undefined;
  /** `--backend-ca-file`: what `scheme=https` containers are verified against. */
  readonly backendCaFile?: string | undefined;
  /** ACME settings; absent: no ACME. */
  readonly acme?: AcmeSettings | undefined;
  /** `--dry-run`. */
  readonly dryRun: boolean;
  /** `-1`: apply once; an unchanged file is not reloaded. */
  readonly once?: boolean;
  /**
   * `--per-port-frontends`: one HTTP frontend per label port, as the
   * original had; `httpBind` gives the addresses. A new port reloads (a new
   * listener); a new host on a port goes through the host map keyed
   * `host:port`, unless it is on HTTPS.
   */
  readonly perPortFrontends?: boolean;
  /**
   * `--diff` (with `-1` and `dryRun`): validate the rendering and keep
   * what it would change, for the entry point to print.
   */
  readonly diff?: boolean;
  /** `--debounce`, parsed. */
  readonly debounce: DebounceTiming;
  /** `--check-timeout`: how long `haproxy -c` and a reload command may run, ms. */
  readonly checkTimeoutMs?: number;
  /**
   * `--hard-stop-after`: how long an old worker may keep its connections
   * after a reload, as HAProxy writes it; "" for as long as they last.
   */
  readonly hardStopAfter?: string;
  /**
   * `--trusted-proxies`: addresses and ranges whose `X-Forwarded-For` is
   * believed (and, with `proxyProtocol`, whose PROXY header); none by
   * default: every client's own `X-Forwarded-For` is removed.
   */
  readonly trustedProxies?: readonly string[];
  /** `--proxy-protocol`: connections from trusted proxies send a PROXY header (v1 or v2). */
  readonly proxyProtocol?: boolean;
  /** `--error-pages`: a directory of 404.html, 502.html, 503.html, 504.html; none by default. */
  readonly errorPages?: string | undefined;
  /** `--access-log`: where a JSON object per request and TCP connection goes; none by default. */
  readonly accessLog?: AccessLogTarget | undefined;
}

/** Who runs HAProxy. */
export type HAProxyMode = "managed" | "external";

/**
 * Reads `--haproxy` / `haproxy=`: the value if given, else `external` when a
 * reload command was given (as with the original docker-glue) and `managed`
 * otherwise.
 *
 * @throws {SettingsError} for another value, or a reload command given with
 * `managed`.
 */
export function parseMode(
  value: string | undefined,
  reloadCmdGiven: boolean,
): HAProxyMode {
  if (value === undefined || value === "") {
    return reloadCmdGiven ? "external" : "managed";
  }
  if (value !== "managed" && value !== "external") {
    throw new SettingsError(
      `Invalid HAProxy mode ${
        JSON.stringify(value)
      }: expected managed or external`,
    );
  }
  if (value === "managed" && reloadCmdGiven) {
    throw new SettingsError(
      "A reload command goes with an external HAProxy: a managed one is reloaded through its master",
    );
  }
  return value;
}

/** The master CLI socket of a managed HAProxy: beside the admin socket, else beside the configuration. */
export function masterSocketFor(settings: HAProxySettings): string {
  const anchor = settings.statsSocket || settings.configFile;
  return `${anchor.slice(0, anchor.lastIndexOf("/")) || ""}/master.sock`;
}

/** Defaults shared by the balancer's flags and the handler's params. */
export const HAPROXY_DEFAULTS = {
  configFile: "/etc/haproxy/haproxy.cfg",
  reloadCmd: "systemctl reload haproxy",
  haproxyBin: "haproxy",
  httpBind: "*:80",
  statsBind: "127.0.0.1:8404",
  tcpBindAddress: "*",
  statsSocket: "/run/haproxy/admin.sock",
  debounce: "500ms:3s",
  checkTimeout: "30s",
  hardStopAfter: "1h",
  tlsCertDir: "/etc/haproxy/certs",
  acmeBackoff: "1m:24h",
  // Let's Encrypt allows 300 new orders per account in 3 hours (and 50
  // certificates per registered domain in a week): 30 an hour stays well
  // under the first whatever a label loop does.
  acmeOrdersPerHour: "30",
} as const;

/**
 * ACME settings from the `--acme-*` flags (or their INI params):
 * undefined when no directory is given.
 *
 * @throws {SettingsError} when the directory comes without an email, or the
 * other way round, or the back-off cannot be read.
 */
export function acmeSettings(given: {
  directory?: string | undefined;
  email?: string | undefined;
  caFile?: string | undefined;
  backoff?: string | undefined;
  ordersPerHour?: string | undefined;
  dnsHook?: string | undefined;
  challenge?: string | undefined;
}): AcmeSettings | undefined {
  const directory = given.directory?.trim() ?? "";
  const email = given.email?.trim() ?? "";
  if (directory === "" && email === "") return undefined;
  if (directory === "" || email === "") {
    throw new SettingsError(
      "ACME needs both a directory URL (--acme-directory) and a contact email (--acme-email)",
    );
  }
  const dnsHook = checkPath(given.dnsHook ?? "", "ACME DNS hook") || undefined;
  try {
    return {
      directoryUrl: directory,
      email,
      caFile: given.caFile || undefined,
      backoff: parseBackoff(given.backoff ?? HAPROXY_DEFAULTS.acmeBackoff),
      ordersPerHour: parseOrdersPerHour(
        given.ordersPerHour ?? HAPROXY_DEFAULTS.acmeOrdersPerHour,
      ),
      dnsHook,
      challenge: parseChallenge(given.challenge ?? "http-01", dnsHook),
    };
  } catch (error) {
    throw new SettingsError(errorMessage(error));
  }
}

// A bind line goes into haproxy.cfg as written; refuse what could end the
// line or start a comment.
function parseBinds(value: string, flag: string): string[] {
  const binds = value.split(",").map((part) => part.trim()).filter(Boolean);
  for (const bind of binds) {
    // deno-lint-ignore no-control-regex -- control characters are what we refuse
    if (/[\x00-\x1f\x7f#]/.test(bind)) {
      throw new SettingsError(
        `Invalid ${flag} ${
          JSON.stringify(bind)
        }: control characters and # are not allowed`,
      );
    }
  }
  return binds;
}

// A path HAProxy's configuration takes as one word; "" for none.
function checkPath(path: string, what: string): string {
  if (path !== "" && !/^\/[A-Za-z0-9._\/-]+$/.test(path)) {
    throw new SettingsError(
      `Invalid ${what} ${
        JSON.stringify(path)
      }: expected an absolute path of letters, digits, . _ - /`,
    );
  }
  return path;
}

/** The ports of `bind` arguments such as `*:80` or `127.0.0.1:8404 ssl crt x`. */
export function listenPorts(binds: readonly string[]): number[] {
  const ports: number[] = [];
  for (const bind of binds) {
    const address = bind.split(/\s+/)[0] ?? "";
    const match = /:([0-9]+)(?:-([0-9]+))?$/.exec(address);
    if (match === null) continue;
    const first = Number(match[1]);
    const last = match[2] === undefined ? first : Number(match[2]);
    for (let port = first; port <= last && port - first < 65536; port++) {
      ports.push(port);
    }
  }
  return ports;
}

/** Settings whose values have been checked, in the form the engine takes them. */
export interface CheckedSettings {
  /** The settings as given. */
  readonly given: HAProxySettings;
  /** The route model's options: what `routes` and the engine both build the table with. */
  readonly routes: RouteOptions;
  /** The map files the configuration reads (none without an admin socket). */
  readonly maps: Partial<MapFiles>;
  /** The reload command as argv. */
  readonly reloadCmd: string[];
  /** HTTP frontend binds. */
  readonly httpBind: string[];
  /** The stats listener's bind, as a list of at most one. */
  readonly statsBind: string[];
  /** Where TCP frontends listen. */
  readonly tcpBindAddress: string;
  /** The admin socket, "" for none. */
  readonly statsSocket: string;
  /** HTTPS frontend binds; none for no HTTPS. */
  readonly httpsBind: string[];
  /** CA file HTTPS containers are verified against; "" for none. */
  readonly backendCaFile: string;
}

/**
 * Checks the settings of the traffic itself: who may say who the client is,
 * and where its log goes.
 *
 * @throws {SettingsError} naming the setting at fault.
 */
function checkTraffic(settings: HAProxySettings): void {
  if (
    settings.proxyProtocol === true &&
    (settings.trustedProxies ?? []).length === 0
  ) {
    throw new SettingsError(
      "--proxy-protocol needs --trusted-proxies: the PROXY header is believed from them only",
    );
  }
  if (settings.accessLog?.kind === "file" && settings.mode !== "managed") {
    throw new SettingsError(
      `--access-log ${settings.accessLog.path} needs a managed HAProxy, whose output docker-balancer writes to the file; an external HAProxy logs to stdout or to syslog:ADDRESS`,
    );
  }
}

/**
 * Checks the values the operator gave, without touching the system, so an
 * entry point can report a bad one as a usage error before anything runs.
 *
 * @throws {SettingsError} naming the setting at fault.
 */
export function checkSettings(settings: HAProxySettings): CheckedSettings {
  let reloadCmd: string[];
  try {
    reloadCmd = splitArgs(settings.reloadCmd);
  } catch (error) {
    throw new SettingsError(
      `Invalid reload command: ${errorMessage(error)}`,
    );
  }
  checkTraffic(settings);
  const httpBind = parseBinds(settings.httpBind, "HTTP bind");
  const statsBind = parseBinds(settings.statsBind, "stats bind");
  if (statsBind.length > 1) {
    throw new SettingsError(
      `Invalid stats bind "${settings.statsBind}": give one address`,
    );
  }
  const tcpBindAddress = settings.tcpBindAddress.trim();
  if (!/^(\*|[0-9A-Fa-f:.]+|\[[0-9A-Fa-f:.]+\])$/.test(tcpBindAddress)) {
    throw new SettingsError(
      `Invalid TCP bind address "${settings.tcpBindAddress}": expected * or an IP address`,
    );
  }
  if (settings.diff && !(settings.once && settings.dryRun)) {
    throw new SettingsError(
      "--diff shows what one run would change: give it with -1 --dry-run",
    );
  }
  const statsSocket = checkPath(settings.statsSocket ?? "", "stats socket");
  const httpsBind = parseBinds(settings.httpsBind ?? "", "HTTPS bind");
  const https = httpsBind.length > 0;
  const acme = settings.acme;
  if (acme !== undefined) checkAcme(acme, https, statsSocket, settings.once);
  const perPort = settings.perPortFrontends === true;
  const backendCaFile = checkPath(
    settings.backendCaFile?.trim() ?? "",
    "backend CA file",
  );
  const httpsPort = listenPorts(httpsBind)[0];
  return {
    given: settings,
    routes: {
      network: settings.network,
      includeEnv: settings.includeEnv,
      // Per-port frontends listen on the label ports, not on --http-bind's.
      reservedPorts: listenPorts([
        ...(perPort ? [] : httpBind),
        ...statsBind,
        ...httpsBind,
      ]),
      https,
      ...(httpsPort === undefined ? {} : { httpsPort }),
      ...(perPort ? { perPortFrontends: true } : {}),
    },
    maps: mapFilesFor(settings.configFile, {
      statsSocket,
      https,
      acme: acme !== undefined,
      perPortFrontends: perPort,
    }),
    reloadCmd,
    httpBind,
    statsBind,
    tcpBindAddress,
    statsSocket,
    httpsBind,
    backendCaFile,
  };
}

/**
 * ACME needs the HTTPS frontend, the admin socket (challenges are answered
 * through a map) and a daemon; its directory and email must look right.
 *
 * @throws {SettingsError} naming what is missing or wrong.
 */
function checkAcme(
  acme: NonNullable<HAProxySettings["acme"]>,
  https: boolean,
  statsSocket: string,
  once: boolean | undefined,
): void {
  if (!https) {
    throw new SettingsError(
      "ACME gets certificates for the HTTPS frontend: give --https-bind too",
    );
  }
  if (statsSocket === "") {
    throw new SettingsError(
      "ACME challenges are answered through HAProxy's runtime API: it needs --stats-socket",
    );
  }
  if (once) {
    throw new SettingsError(
      "ACME runs with -w: with -1 nothing would wait for a certificate or renew it",
    );
  }
  if (!/^https:\/\/\S+$/.test(acme.directoryUrl)) {
    throw new SettingsError(
      `Invalid ACME directory ${
        JSON.stringify(acme.directoryUrl)
      }: expected an https:// URL`,
    );
  }
  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(acme.email)) {
    throw new SettingsError(
      `Invalid ACME email ${
        JSON.stringify(acme.email)
      }: expected an address such as admin@example.com`,
    );
  }
}

/** What decides which map files a configuration reads. */
export interface MapFileOptions {
  /** HAProxy's admin socket; "" for none, and then no maps. */
  readonly statsSocket: string;
  /** An HTTPS frontend: host maps for it and for redirects to it. */
  readonly https: boolean;
  /** ACME: the challenge token map. */
  readonly acme: boolean;
  /**
   * Per-port frontends: one host map keyed `host:port` serves them all; the
   * HTTPS frontend's routes are not pooled, so it has no maps.
   */
  readonly perPortFrontends?: boolean;
}

/** The map files of a configuration: host maps for the pool, ACME tokens, hosts gone lately. */
export function mapFilesFor(
  configFile: string,
  options: MapFileOptions,
): Partial<MapFiles> {
  // Without the runtime API host maps would only rename backends, and the
  // hosts gone lately would cost a reload each time one is forgotten.
  if (options.statsSocket === "") return {};
  return {
    gone: `${configFile}.gone.map`,
    fresh: `${configFile}.fresh.map`,
    auth: `${configFile}.auth.map`,
    lua: `${configFile}.lua`,
    http: `${configFile}.hosts.map`,
    ...(options.https && !options.perPortFrontends
      ? {
        https: `${configFile}.https.map`,
        redirect: `${configFile}.redirect.map`,
      }
      : {}),
    ...(options.acme ? { acme: `${configFile}.acme.map` } : {}),
  };
}

/**
 * Parses `--trusted-proxies`: a comma list of IPv4 or IPv6 addresses and
 * CIDR ranges, as `allow` takes them; "" for none.
 *
 * @throws {SettingsError} naming the entry at fault.
 */
export function parseTrustedProxies(value: string): string[] {
  if (value.trim() === "") return [];
  try {
    return parseAllow(value);
  } catch (error) {
    throw new SettingsError(`Invalid trusted proxies: ${errorMessage(error)}`);
  }
}

/**
 * Parses `--hard-stop-after`: a duration from 1 s to a week, such as `1h`,
 * or `0` for none (old workers keep their connections until they close).
 *
 * @throws {SettingsError} for another value.
 */
export function parseHardStopAfter(value: string): string {
  if (value === "0") return "";
  const ms = durationMs(value);
  if (ms === null || ms < 1000 || ms > 7 * 24 * 3_600_000) {
    throw new SettingsError(
      `Invalid hard stop after ${
        JSON.stringify(value)
      }: expected a duration from 1s to 168h, such as 1h, or 0 for none`,
    );
  }
  return value;
}

/**
 * Parses `--check-timeout`: a duration from 1 s to 10 m.
 *
 * @throws {SettingsError} for anything else.
 */
export function parseCheckTimeout(value: string): number {
  const ms = durationMs(value);
  if (ms === null || ms < 1000 || ms > 600_000) {
    throw new SettingsError(
      `Invalid check timeout ${
        JSON.stringify(value)
      }: expected a duration from 1s to 10m, such as 30s`,
    );
  }
  return ms;
}
