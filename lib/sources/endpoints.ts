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
 * Parses a comma list of etcd endpoints: `http://host:port`,
 * `https://host:port`, or `host:port` as etcdctl takes it (plain HTTP).
 *
 * @throws {TypeError} naming the bad entry.
 */
export function parseEndpoints(value: string): string[] {
  const endpoints = value.split(",").map((e) => e.trim()).filter((e) =>
    e !== ""
  );
  if (endpoints.length === 0) throw new TypeError("no etcd endpoints given");
  return endpoints.map((given) => {
    const endpoint = /^[a-z][a-z0-9+.-]*:\/\//i.test(given)
      ? given
      : `http://${given}`;
    if (!/^https?:\/\/[A-Za-z0-9.\-\[\]:]+:[0-9]+\/?$/.test(endpoint)) {
      throw new TypeError(
        `Invalid etcd endpoint ${
          JSON.stringify(given)
        }: expected host:port or http://host:port`,
      );
    }
    return endpoint;
  });
}
