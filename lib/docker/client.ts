/**
 * Connects to the Docker engine named by `--docker-url` or `DOCKER_HOST`.
 *
 * @module
 */

// @ts-types="@types/dockerode"
import Docker from "dockerode";

/** Docker API client type, re-exported so other modules need not import dockerode. */
export type DockerClient = Docker;

/** Where Docker listens when neither `--docker-url` nor `DOCKER_HOST` says. */
export const DEFAULT_DOCKER_URL = "unix:///var/run/docker.sock";

/** The Docker URL to use: the flag, else `DOCKER_HOST`, else the default socket. */
export function dockerUrl(flag: string | undefined): string {
  return flag || Deno.env.get("DOCKER_HOST") || DEFAULT_DOCKER_URL;
}

/**
 * Creates a client for `unix:///path`, `tcp://host:port`, `http://host:port`
 * or `https://host:port`.
 *
 * @throws {TypeError} for any other form.
 */
export function connectDocker(url: string): DockerClient {
  if (url.startsWith("unix://")) {
    const socketPath = url.slice("unix://".length);
    if (socketPath === "") throw new TypeError(`Invalid Docker URL "${url}"`);
    return new Docker({ socketPath });
  }
  const match = /^(tcp|http|https):\/\/([^/:]+|\[[^\]]+\]):([0-9]+)\/?$/.exec(
    url,
  );
  if (match === null) {
    throw new TypeError(
      `Invalid Docker URL "${url}": expected unix:///path/to/docker.sock or tcp://host:port`,
    );
  }
  const [, scheme, host, port] = match;
  return new Docker({
    protocol: scheme === "https" ? "https" : "http",
    host: host as string,
    port: Number(port),
  });
}

/** A Docker API error's HTTP status, if it has one. */
export function statusCodeOf(error: unknown): number | undefined {
  if (error !== null && typeof error === "object" && "statusCode" in error) {
    const code = (error as { statusCode: unknown }).statusCode;
    return typeof code === "number" ? code : undefined;
  }
  return undefined;
}
