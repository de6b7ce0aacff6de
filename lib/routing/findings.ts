/**
 * What the route model tells about a container: why a route is lost, or a
 * choice worth knowing. The engine logs each once; `routes` lists them.
 *
 * @module
 */

/**
 * Why a container, or one of its ports, is not routed: a reason of the
 * route model (bad-label, not-exposed, not-published, no-address,
 * conflict) or of the container's state (paused, unhealthy, starting,
 * damped).
 */
export type UnroutedReason =
  | "bad-label"
  | "not-exposed"
  | "not-published"
  | "no-address"
  | "conflict"
  | "paused"
  | "unhealthy"
  | "starting"
  | "damped"
  | "rejected"
  | "bad-document";

/** Something about a container worth telling the operator. */
export interface Finding {
  /** `warning` loses a route; `info` explains a choice. */
  readonly severity: "warning" | "info";
  /** For a warning: why the route is lost. */
  readonly reason?: UnroutedReason;
  /** Container name. */
  readonly container: string;
  /** Container id. */
  readonly containerId: string;
  /** The label at fault, when one is. */
  readonly label?: string;
  /** What happened, in words. */
  readonly message: string;
}
