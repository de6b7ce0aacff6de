/**
 * Chooses the address HAProxy uses to reach a container.
 *
 * @module
 */

import type { ContainerRecord } from "../docker/container.ts";

/** The address picked for a container, with a note when the choice was not obvious. */
export interface AddressChoice {
  /** IP address HAProxy connects to. */
  readonly address: string;
  /** Network the address belongs to (`bridge` for the default bridge). */
  readonly network: string;
  /** Set when several networks were possible and one was picked by rule. */
  readonly note?: string;
}

/**
 * Picks the container's address: the network named by its `glue_network`
 * label (which must exist), else the network named by `--network` when the
 * container is on it, else the default bridge address, else the only network,
 * else the first network in name order (with a note saying so).
 *
 * @throws {Error} when the label names a network the container is not on, or
 * the container has no address at all (network mode `host` or `none`).
 */
export function pickAddress(
  container: ContainerRecord,
  labelNetwork: string | undefined,
  flagNetwork: string | undefined,
): AddressChoice {
  const names = Object.keys(container.networks).sort();
  if (labelNetwork !== undefined && labelNetwork !== "") {
    const address = container.networks[labelNetwork];
    if (address === undefined) {
      throw new Error(
        `network ${JSON.stringify(labelNetwork)} is not one of its networks (${
          names.join(", ") || "none"
        })`,
      );
    }
    return { address, network: labelNetwork };
  }
  if (flagNetwork !== undefined && flagNetwork !== "") {
    const address = container.networks[flagNetwork];
    if (address !== undefined) return { address, network: flagNetwork };
  }
  if (container.ipAddress !== "") {
    return { address: container.ipAddress, network: "bridge" };
  }
  const first = names[0];
  if (first === undefined) {
    throw new Error("has no IP address on any network");
  }
  const address = container.networks[first] ?? "";
  if (names.length === 1) return { address, network: first };
  return {
    address,
    network: first,
    note: `is on networks ${
      names.join(", ")
    }; using ${first} (set label glue_network or --network to choose)`,
  };
}
