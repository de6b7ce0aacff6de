/**
 * The etcd key layout and the JSON document docker-glue publishes for each
 * running container, and the way back from a document to a container record.
 *
 * Layout under a prefix (default `/docker-glue`):
 *
 * - `<prefix>/hosts/<host-id>/containers/<container-id>`: one
 *   {@link ContainerDocument} per running container;
 * - `<prefix>/hosts/<host-id>/agent`: a {@link HostDocument} about the
 *   publishing agent.
 *
 * Every key of a host hangs on one lease, so a host whose agent stops
 * refreshing it disappears within the lease's TTL.
 *
 * @module
 */

import type {
  ContainerRecord,
  HealthState,
  PublishedPort,
} from "../docker/container.ts";

/** Document format version; bumped on incompatible changes. */
export const DOCUMENT_VERSION = 1;

/** What is stored for one running container. */
export interface ContainerDocument {
  readonly version: number;
  readonly hostId: string;
  readonly advertiseAddress: string;
  readonly id: string;
  readonly name: string;
  readonly image: string;
  readonly created: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly state: {
    readonly running: boolean;
    readonly paused: boolean;
    readonly health: HealthState;
    readonly restartCount: number;
    readonly startedAt: string;
  };
  readonly ipAddress: string;
  readonly networks: Readonly<Record<string, string>>;
  readonly exposedPorts: readonly string[];
  readonly publishedPorts: readonly PublishedPort[];
}

/** What is stored about the publishing agent of a host. */
export interface HostDocument {
  readonly version: number;
  readonly hostId: string;
  readonly advertiseAddress: string;
  readonly agentVersion: string;
  readonly since: string;
}

/** Host ids and container ids become key segments: no `/`, nothing odd. */
const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,252}$/;

/**
 * Checks a host id.
 *
 * @throws {TypeError} when it cannot be a key segment.
 */
export function checkHostId(hostId: string): string {
  if (!SEGMENT.test(hostId)) {
    throw new TypeError(
      `Invalid host id ${
        JSON.stringify(hostId)
      }: use letters, digits, "_", "." and "-"`,
    );
  }
  return hostId;
}

/** Normalizes a key prefix: leading `/`, no trailing `/`. */
export function normalizePrefix(prefix: string): string {
  const trimmed = prefix.replace(/^\/+|\/+$/g, "");
  return trimmed === "" ? "" : `/${trimmed}`;
}

/** Where a host's container keys live (ends with `/`). */
export function hostContainersPrefix(prefix: string, hostId: string): string {
  return `${normalizePrefix(prefix)}/hosts/${hostId}/containers/`;
}

/** Key of one container. */
export function containerKey(
  prefix: string,
  hostId: string,
  id: string,
): string {
  return `${hostContainersPrefix(prefix, hostId)}${id}`;
}

/** Key of a host's agent document. */
export function agentKey(prefix: string, hostId: string): string {
  return `${normalizePrefix(prefix)}/hosts/${hostId}/agent`;
}

/** Splits a container key into host id and container id, or null for other keys. */
export function parseContainerKey(
  prefix: string,
  key: string,
): { hostId: string; id: string } | null {
  const base = `${normalizePrefix(prefix)}/hosts/`;
  if (!key.startsWith(base)) return null;
  const parts = key.slice(base.length).split("/");
  if (parts.length !== 3 || parts[1] !== "containers") return null;
  const [hostId, , id] = parts as [string, string, string];
  return SEGMENT.test(hostId) && SEGMENT.test(id) ? { hostId, id } : null;
}

/** The document published for a container. Environment variables are never published: they often hold secrets. */
export function containerDocument(
  record: ContainerRecord,
  hostId: string,
  advertiseAddress: string,
): ContainerDocument {
  return {
    version: DOCUMENT_VERSION,
    hostId,
    advertiseAddress,
    id: record.id,
    name: record.name,
    image: record.image,
    created: record.created,
    labels: record.labels,
    state: {
      running: record.running,
      paused: record.paused,
      health: record.health,
      restartCount: record.restartCount,
      startedAt: record.startedAt,
    },
    ipAddress: record.ipAddress,
    networks: record.networks,
    exposedPorts: record.exposedPorts,
    publishedPorts: record.publishedPorts,
  };
}
