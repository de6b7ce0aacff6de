/**
 * Chooses the address HAProxy uses to reach a container.
 *
 * @module
 */

import { quoteValue } from "./labels.ts";
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
 * Picks the container's network: the one named by its `glue_network` label
 * (which must exist), else the one named by `--network` when the container
 * is on it, else the default bridge, else the only network, else the first
 * network in name order (with a note saying so). Its IPv4 address is used,
 * or its IPv6 address with `ipv6` (the `glue_ipv6` label) or where the
 * container has no IPv4 address at all.
 *
 * @throws {Error} when the label names a network the container is not on,
 * `ipv6` is asked on a network without IPv6, or the container has no
 * address at all (network mode `host` or `none`).
 */
export function pickAddress(
  container: ContainerRecord,
  labelNetwork: string | undefined,
  flagNetwork: string | undefined,
  ipv6 = false,
): AddressChoice {
  const v6 = container.networks6 ?? {};
  const hasV4 = Object.keys(container.networks).length > 0 ||
    container.ipAddress !== "";
  // Without IPv4 anywhere the IPv6 addresses are all there is.
  const useV6 = ipv6 || !hasV4;
  const table = useV6 ? v6 : container.networks;
  const names = [
    ...new Set([...Object.keys(container.networks), ...Object.keys(v6)]),
  ].sort();
  const on = (network: string): AddressChoice => {
    const address = table[network];
    if (address === undefined) {
      throw new Error(
        `has no ${useV6 ? "IPv6" : "IPv4"} address on network ${network}`,
      );
    }
    return { address, network };
  };
  if (labelNetwork !== undefined && labelNetwork !== "") {
    if (!names.includes(labelNetwork)) {
      throw new Error(
        `network ${quoteValue(labelNetwork)} is not one of its networks (${
          names.join(", ") || "none"
        })`,
      );
    }
    return on(labelNetwork);
  }
  if (
    flagNetwork !== undefined && flagNetwork !== "" &&
    table[flagNetwork] !== undefined
  ) return on(flagNetwork);
  if (!useV6 && container.ipAddress !== "") {
    return { address: container.ipAddress, network: "bridge" };
  }
  const usable = names.filter((name) => table[name] !== undefined);
  const first = usable[0];
  if (first === undefined) {
    throw new Error(
      ipv6
        ? "has no IPv6 address on any network"
        : "has no IP address on any network",
    );
  }
  const address = table[first] ?? "";
  if (usable.length === 1) return { address, network: first };
  return {
    address,
    network: first,
    note: `is on networks ${
      usable.join(", ")
    }; using ${first} (set label glue_network or --network to choose)`,
  };
}
