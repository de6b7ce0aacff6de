/**
 * Names docker-balancer gives what it makes, kept apart from the code that
 * makes them so that saying them loads nothing heavy.
 *
 * @module
 */

/** Common name of the self-signed default certificate, so an operator recognises it. */
export const SELF_SIGNED_NAME = "docker-balancer default certificate";
