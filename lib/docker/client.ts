/**
 * Connects to a Docker engine named by `--docker-url` or `DOCKER_HOST`
 * (engine_url.ts), over its socket or TCP, with TLS when given.
 *
 * @module
 */

// Before dockerode: ESM evaluates sibling imports in order.
import "./unused_transports.ts";
// @ts-types="@types/dockerode"
import Docker from "dockerode";
import { errorMessage } from "../util/error_message.ts";
import { type EngineAddress, parseEngineUrl } from "./engine_url.ts";

/** Docker API client type, re-exported so other modules need not import dockerode. */
export type DockerClient = Docker;

/**
 * Creates a client for an engine address (or a URL, read as
 * {@link parseEngineUrl} reads it). TLS files are read now, so a missing
 * one is reported at start.
 *
 * @throws {EngineUrlError} for a bad URL; a file error for a TLS file that
 * cannot be read.
 */
export function connectDocker(engine: EngineAddress | string): DockerClient {
  const address = typeof engine === "string" ? parseEngineUrl(engine) : engine;
  if (address.socketPath !== undefined) {
    return new Docker({ socketPath: address.socketPath });
  }
  const tls = address.tls;
  const read = (file: string, what: string) => {
    try {
      return Deno.readTextFileSync(file);
    } catch (error) {
      throw new Error(
        `Docker URL ${address.url}: cannot read the ${what} ${file}: ${
          errorMessage(error)
        }`,
        { cause: error },
      );
    }
  };
  return new Docker({
    protocol: tls !== undefined || address.url.startsWith("https:")
      ? "https"
      : "http",
    host: address.host as string,
    port: address.port as number,
    ...(tls === undefined ? {} : {
      ca: read(tls.caFile, "CA file"),
      cert: read(tls.certFile, "client certificate"),
      key: read(tls.keyFile, "client key"),
    }),
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
