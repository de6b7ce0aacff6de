/**
 * Where the access log goes (`--access-log`): one JSON object per request
 * or TCP connection, written by HAProxy itself. To standard output or a
 * file, HAProxy writes to its own standard output and a managed HAProxy's
 * output is ours to pass on; a syslog address HAProxy reaches directly.
 * Pure.
 *
 * @module
 */

import { SettingsError } from "../util/settings_error.ts";

/** An access log's destination. */
export type AccessLogTarget =
  | { readonly kind: "stdout" }
  | { readonly kind: "file"; readonly path: string }
  | { readonly kind: "syslog"; readonly address: string };

// An IP literal and a port: HAProxy resolves a name once, at start, and
// a syslog server that moves would silently lose the log.
const UDP_ADDRESS =
  /^(?:[0-9]{1,3}(?:\.[0-9]{1,3}){3}|\[[0-9A-Fa-f:.]+\]):[0-9]{1,5}$/;

/**
 * Parses `--access-log` / `access_log=`: `stdout`; `syslog:IP:PORT` or
 * `syslog:[IPv6]:PORT` (UDP) or `syslog:/dev/log` (a local syslog socket);
 * or the absolute path of a file. "" for none.
 *
 * @throws {SettingsError} naming the value at fault.
 */
export function parseAccessLog(value: string): AccessLogTarget | undefined {
  const text = value.trim();
  if (text === "") return undefined;
  if (text === "stdout") return { kind: "stdout" };
  const invalid = (why: string) =>
    new SettingsError(`Invalid access log ${JSON.stringify(text)}: ${why}`);
  if (text.startsWith("syslog:")) {
    const address = text.slice("syslog:".length);
    if (address.startsWith("/") && !/[\s"'#\\]/.test(address)) {
      return { kind: "syslog", address };
    }
    if (!UDP_ADDRESS.test(address)) {
      throw invalid(
        "a syslog address is an IP address and port (syslog:127.0.0.1:514, syslog:[::1]:514) or a socket path (syslog:/dev/log)",
      );
    }
    const port = Number(address.slice(address.lastIndexOf(":") + 1));
    if (port < 1 || port > 65535) throw invalid("the port is 1-65535");
    return { kind: "syslog", address };
  }
  if (!text.startsWith("/")) {
    throw invalid(
      "expected stdout, syslog:ADDRESS or the absolute path of a file",
    );
  }
  if (text.endsWith("/") || /[\0\n]/.test(text)) {
    throw invalid("a file path names a file");
  }
  return { kind: "file", path: text };
}

/**
 * The `log` target HAProxy's frontends write the access log to: a syslog
 * address as given, or HAProxy's standard output, raw (the JSON object
 * alone on its line) for docker-balancer or systemd to pass on.
 */
export function haproxyLogTarget(target: AccessLogTarget): string {
  return target.kind === "syslog"
    ? `${target.address} local0 info`
    : "stdout format raw local0 info";
}
