/**
 * Builders for container records in tests:
 * `container("wp1", labels({ glue_http_80_host: "a.com" }), ip("10.0.0.2"))`.
 *
 * @module
 */

import type { ContainerRecord } from "../../lib/docker/container.ts";

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
/** Changes one aspect of a test container. */
export type Option = (record: Mutable<ContainerRecord>) => void;

let serial = 0;

/** A running container exposing 80/tcp on the default bridge, changed by `options`. */
export function container(name: string, ...options: Option[]): ContainerRecord {
  serial++;
  const record: Mutable<ContainerRecord> = {
    id: `${name}-${"0".repeat(12)}`.slice(0, 64),
    name,
    created: `2026-01-01T00:00:${String(serial % 60).padStart(2, "0")}Z`,
    image: "test/image:1",
    labels: {},
    env: {},
    exposedPorts: ["80/tcp"],
    publishedPorts: [],
    ipAddress: `172.17.0.${(serial % 250) + 2}`,
    networks: {},
    running: true,
    paused: false,
    health: "none",
    restartCount: 0,
    startedAt: "2026-01-01T00:00:00Z",
  };
  for (const option of options) option(record);
  return record;
}

/** Sets labels. */
export function labels(values: Record<string, string>): Option {
  return (r) => {
    r.labels = { ...r.labels, ...values };
  };
}

/** Sets environment variables. */
export function env(values: Record<string, string>): Option {
  return (r) => {
    r.env = { ...r.env, ...values };
  };
}

/** Sets the default bridge address. */
export function ip(address: string): Option {
  return (r) => {
    r.ipAddress = address;
  };
}

/** Attaches to a user-defined network (and leaves the default bridge). */
export function network(name: string, address: string): Option {
  return (r) => {
    r.ipAddress = "";
    r.networks = { ...r.networks, [name]: address };
  };
}

/** Sets the exposed ports (`80/tcp` ...). */
export function exposes(...ports: string[]): Option {
  return (r) => {
    r.exposedPorts = ports;
  };
}

/** Publishes a container port (`80/tcp`) on a host port. */
export function publishes(
  port: string,
  hostPort: number,
  hostIp = "0.0.0.0",
): Option {
  return (r) => {
    r.publishedPorts = [...r.publishedPorts, { port, hostIp, hostPort }];
  };
}

/** Marks the record as read from etcd, published by `id` at `advertiseAddress`. */
export function onHost(id: string, advertiseAddress: string): Option {
  return (r) => {
    r.host = { id, advertiseAddress };
  };
}

/** Sets the creation time. */
export function created(time: string): Option {
  return (r) => {
    r.created = time;
  };
}

/** Sets the health state. */
export function health(state: ContainerRecord["health"]): Option {
  return (r) => {
    r.health = state;
  };
}

/** Sets restart count and start time. */
export function restarted(count: number, startedAt: string): Option {
  return (r) => {
    r.restartCount = count;
    r.startedAt = startedAt;
  };
}

/** Marks the container paused. */
export function paused(): Option {
  return (r) => {
    r.paused = true;
  };
}

/** Marks the container stopped. */
export function stopped(): Option {
  return (r) => {
    r.running = false;
  };
}

/** The original README's four example containers, on 10.0.0.1-4. */
export function readmeExamples(): ContainerRecord[] {
  return [
    container(
      "wp1",
      ip("10.0.0.1"),
      labels({ glue_http_80_host: "wp1.example.com" }),
    ),
    container(
      "wp2",
      ip("10.0.0.2"),
      labels({ glue_http_80_host: "wp2.example.com" }),
    ),
    container(
      "os-ui1",
      ip("10.0.0.3"),
      labels({
        glue_http_80_host: "openstack.example.com",
        glue_http_80_prefix: "dashboard/horizon",
      }),
    ),
    container(
      "os-id1",
      ip("10.0.0.4"),
      labels({
        glue_http_80_host: "openstack.example.com",
        glue_http_80_prefix: "identity/keystone",
      }),
    ),
  ];
}
