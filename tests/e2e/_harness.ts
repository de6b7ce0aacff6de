/**
 * Real-program helpers for end-to-end tests: the Docker CLI, a test image
 * built with `docker import` from busybox-static, a private bridge network,
 * HAProxy in master-worker mode, docker-balancer run from source with its
 * compiled permission set, and a raw HTTP client (so the Host header is ours).
 *
 * Everything a test creates carries the label `docker-glue-test` and is
 * removed by its cleanup.
 *
 * @module
 */

export * from "./_harness/base.ts";
export * from "./_harness/docker.ts";
export * from "./_harness/haproxy.ts";
export * from "./_harness/http.ts";
export * from "./_harness/process.ts";
export * from "./_harness/setup.ts";
