/**
 * etcd endpoint settings, apart from the client so that reading flags does
 * not load the etcd modules.
 *
 * @module
 */

/** Where etcd listens when nothing else is said. */
export const DEFAULT_ETCD_ENDPOINTS = "http://127.0.0.1:2379";
/** Key prefix when nothing else is said. */
export const DEFAULT_ETCD_PREFIX = "/docker-glue";

/**
 * Parses a comma list of etcd endpoints (`http://host:port`).
 *
 * @throws {TypeError} naming the bad entry.
 */
export function parseEndpoints(value: string): string[] {
  const endpoints = value.split(",").map((e) => e.trim()).filter((e) =>
    e !== ""
  );
  if (endpoints.length === 0) throw new TypeError("no etcd endpoints given");
  for (const endpoint of endpoints) {
    if (!/^https?:\/\/[A-Za-z0-9.\-\[\]:]+:[0-9]+\/?$/.test(endpoint)) {
      throw new TypeError(
        `Invalid etcd endpoint ${
          JSON.stringify(endpoint)
        }: expected http://host:port`,
      );
    }
  }
  return endpoints;
}
