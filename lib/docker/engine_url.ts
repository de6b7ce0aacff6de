/**
 * Docker engine addresses as `--docker-url` takes them: where the engine
 * listens, the TLS files `docker --tlsverify` would use, and, for an engine
 * on another host, its name in `routes` and the address its published
 * ports are reached on. Pure: files are named here and read on connect.
 *
 * @module
 */

import { isIpLiteral } from "../util/net_address.ts";

/** Where Docker listens when neither `--docker-url` nor `DOCKER_HOST` says. */
export const DEFAULT_DOCKER_URL = "unix:///var/run/docker.sock";

/** The client certificate set of an engine reached over TLS (`docker --tlsverify`). */
export interface EngineTls {
  /** CA the engine's certificate is checked against (`--tlscacert`). */
  readonly caFile: string;
  /** Client certificate (`--tlscert`). */
  readonly certFile: string;
  /** Its private key (`--tlskey`). */
  readonly keyFile: string;
}

/** One Docker engine to follow. */
export interface EngineAddress {
  /** The URL as given, without its query: `unix:///path` or `tcp://host:port`. */
  readonly url: string;
  /** Socket path, for `unix://`. */
  readonly socketPath?: string;
  /** Host and port, for `tcp://`. */
  readonly host?: string;
  /** TCP port, for `tcp://`. */
  readonly port?: number;
  /** TLS files, when the engine is reached over TLS. */
  readonly tls?: EngineTls;
  /**
   * Name in `routes` and in server names (`name=`), by default the host of
   * the URL.
   */
  readonly name: string;
  /**
   * Address the engine's published ports are reached on (`address=`), by
   * default the URL's host when it is an IP address.
   */
  readonly address?: string;
}

/** A `--docker-url` value that cannot be used, with the reason. */
export class EngineUrlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EngineUrlError";
  }
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const QUERY_KEYS = new Set([
  "tlscacert",
  "tlscert",
  "tlskey",
  "tlsverify",
  "certpath",
  "name",
  "address",
]);

/**
 * Reads one engine URL: `unix:///path`, or `tcp://host:port` (also
 * `http://` and `https://`) with optional query keys `certpath=<dir>`
 * (holding `ca.pem`, `cert.pem` and `key.pem`, as `DOCKER_CERT_PATH`), or
 * `tlscacert=`, `tlscert=` and `tlskey=` one by one, plus `name=` and
 * `address=`.
 *
 * @throws {EngineUrlError} naming the URL and what is wrong with it.
 */
export function parseEngineUrl(text: string): EngineAddress {
  const at = `Docker URL ${JSON.stringify(text)}`;
  const [base = "", query = ""] = text.split("?", 2);
  const params = new URLSearchParams(query);
  for (const key of params.keys()) {
    if (!QUERY_KEYS.has(key)) {
      throw new EngineUrlError(
        `${at}: unknown option ${key} (expected ${[...QUERY_KEYS].join(", ")})`,
      );
    }
  }
  const name = params.get("name") ?? undefined;
  if (name !== undefined && !NAME.test(name)) {
    throw new EngineUrlError(
      `${at}: name must be letters, digits, '.', '_' or '-' (at most 63)`,
    );
  }
  const address = params.get("address") ?? undefined;
  if (address !== undefined && !isIpLiteral(address)) {
    throw new EngineUrlError(`${at}: address must be an IP address`);
  }
  const tls = tlsOf(params, at);
  if (base.startsWith("unix://")) {
    const socketPath = base.slice("unix://".length);
    if (!socketPath.startsWith("/")) {
      throw new EngineUrlError(`${at}: expected unix:///absolute/path`);
    }
    if (tls !== undefined) {
      throw new EngineUrlError(`${at}: TLS options need a tcp:// URL`);
    }
    return {
      url: base,
      socketPath,
      name: name ?? "local",
      ...(address === undefined ? {} : { address }),
    };
  }
  const match = /^(tcp|http|https):\/\/([^/:[\]]+|\[[^\]]+\]):([0-9]{1,5})\/?$/
    .exec(base);
  if (match === null || Number(match[3]) > 65535) {
    throw new EngineUrlError(
      `${at}: expected unix:///path/to/docker.sock or tcp://host:port`,
    );
  }
  const host = (match[2] as string).replace(/^\[(.*)\]$/, "$1");
  const fallback = isIpLiteral(host) ? host : undefined;
  const reached = address ?? fallback;
  return {
    url: base,
    host,
    port: Number(match[3]),
    ...(tls === undefined ? {} : { tls }),
    name: name ?? sanitize(host),
    ...(reached === undefined ? {} : { address: reached }),
  };
}

function tlsOf(params: URLSearchParams, at: string): EngineTls | undefined {
  const dir = params.get("certpath");
  const files = {
    caFile: params.get("tlscacert") ?? (dir === null ? null : `${dir}/ca.pem`),
    certFile: params.get("tlscert") ??
      (dir === null ? null : `${dir}/cert.pem`),
    keyFile: params.get("tlskey") ?? (dir === null ? null : `${dir}/key.pem`),
  };
  const given = Object.values(files).filter((file) => file !== null);
  if (given.length === 0) {
    if (params.has("tlsverify")) {
      throw new EngineUrlError(
        `${at}: tlsverify needs certpath=<dir> or tlscacert, tlscert and tlskey`,
      );
    }
    return undefined;
  }
  if (given.length !== 3) {
    throw new EngineUrlError(
      `${at}: give certpath=<dir>, or all of tlscacert, tlscert and tlskey`,
    );
  }
  for (const file of given) {
    if (!file.startsWith("/")) {
      throw new EngineUrlError(`${at}: ${file} is not an absolute path`);
    }
  }
  return files as EngineTls;
}

function sanitize(host: string): string {
  return host.replace(/[^A-Za-z0-9._-]/g, "-").replace(/^[^A-Za-z0-9]/, "h")
    .slice(0, 63);
}

/**
 * The engines to follow: every `--docker-url` given, else `DOCKER_HOST`
 * (with `DOCKER_TLS_VERIFY` and `DOCKER_CERT_PATH`, as the docker CLI reads
 * them), else the default socket. The first is this host's engine; any
 * further ones are other hosts'.
 *
 * @throws {EngineUrlError} for a bad URL, or as {@link otherEngines}.
 */
export function engineAddresses(
  given: readonly string[],
  env: (name: string) => string | undefined,
): EngineAddress[] {
  let urls = [...given];
  if (urls.length === 0) urls = [fromEnvironment(env)];
  const [first = "", ...rest] = urls;
  return [parseEngineUrl(first), ...otherEngines(rest)];
}

/**
 * The engine URL the docker CLI's environment names: `DOCKER_HOST`, with
 * TLS when `DOCKER_TLS_VERIFY` is set, from `DOCKER_CERT_PATH` or else
 * `$DOCKER_CONFIG` or `~/.docker`, as the docker CLI reads them.
 *
 * @throws {EngineUrlError} for a `DOCKER_HOST` the docker CLI would not take.
 */
function fromEnvironment(env: (name: string) => string | undefined): string {
  const host = env("DOCKER_HOST") || DEFAULT_DOCKER_URL;
  if (host.includes("?")) {
    // Options are ours, not the docker CLI's: a `?` here is a typing slip
    // that would otherwise connect without the TLS the operator asked for.
    throw new EngineUrlError(
      `DOCKER_HOST ${
        JSON.stringify(host)
      }: expected unix:///path or tcp://host:port without options (give options with --docker-url)`,
    );
  }
  const verify = env("DOCKER_TLS_VERIFY");
  if (!verify || verify === "0" || !host.startsWith("tcp://")) return host;
  const config = env("DOCKER_CONFIG") ||
    (env("HOME") ? `${env("HOME")}/.docker` : undefined);
  const certPath = env("DOCKER_CERT_PATH") || config;
  if (certPath === undefined) {
    throw new EngineUrlError(
      `DOCKER_TLS_VERIFY is set but neither DOCKER_CERT_PATH nor HOME names where ca.pem, cert.pem and key.pem are`,
    );
  }
  return `${host}?certpath=${certPath}`;
}

/**
 * The warning an engine reached over TCP without TLS deserves, or null:
 * whoever is on the path can call its API, which is root on its host.
 */
export function cleartextWarning(engine: EngineAddress): string | null {
  if (engine.socketPath !== undefined || engine.tls !== undefined) return null;
  return `Docker engine ${engine.name} at ${engine.url} is reached without TLS: anyone on the path can read and control it, which is root on its host; give it TLS (?certpath=<dir>, as docker --tlsverify) unless the path is private`;
}

/**
 * Other hosts' engines (the `--docker-url`s after the first, or INI
 * `docker_urls`): each needs a name of its own and an IP address for its
 * published ports.
 *
 * @throws {EngineUrlError} for a bad URL, two engines of the same name, or
 * one without an address.
 */
export function otherEngines(urls: readonly string[]): EngineAddress[] {
  const seen = new Set<string>();
  return urls.map((url) => {
    const engine = parseEngineUrl(url);
    const at = `Docker URL ${JSON.stringify(url)}`;
    if (seen.has(engine.name)) {
      throw new EngineUrlError(
        `${at}: a second engine named ${engine.name}; tell them apart with ?name=`,
      );
    }
    seen.add(engine.name);
    if (engine.address === undefined) {
      throw new EngineUrlError(
        `${at}: the address its published ports are reached on is not an IP address; give it with ?address=`,
      );
    }
    return engine;
  });
}

/** This host's engine: the first of {@link engineAddresses}, from the process environment. */
export function thisEngine(
  given: readonly string[] | string | undefined,
): EngineAddress {
  return engineAddresses(splitUrls(given), (name) => Deno.env.get(name))[0]!;
}

/** The flag's values as given: repeated, and each a comma list. */
export function splitUrls(
  values: readonly string[] | string | undefined,
): string[] {
  const list = values === undefined
    ? []
    : typeof values === "string"
    ? [values]
    : values;
  return list.flatMap((value) => value.split(",")).map((url) => url.trim())
    .filter((url) => url !== "");
}
