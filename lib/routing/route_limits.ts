/**
 * How much one container's labels may ask for. Each limit keeps what one
 * container costs the rest within bounds: the configuration HAProxy
 * checks and loads at every reload, and the synchronous work of a route
 * build during which nothing else (events, the status page) is served.
 * A host label of 30,000 names made a 24.5 MB file that took `haproxy -c`
 * 12 s; at these limits a container's routes are a few hundred lines.
 *
 * @module
 */

/**
 * Characters in one `glue_*` label value. The longest a real label needs
 * is an auth list of 64 users with SHA-512 hashes, about 8,000.
 */
export const MAX_LABEL_VALUE = 16_384;

/** Names in one host (or `sni`) list: as many as one certificate may have at Let's Encrypt. */
export const MAX_HOSTS = 100;

/** `glue_*` labels read from one container (with `--include-env`, environment variables too). */
export const MAX_GLUE_LABELS = 512;

/** Routes (host and prefix on a port, or TCP listeners) one container may claim. */
export const MAX_ROUTES = 256;
