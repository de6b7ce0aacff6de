/**
 * Checks for the addresses that reach HAProxy's configuration from outside
 * this process (etcd documents, handler parameters): IP literals and host
 * names, nothing else.
 *
 * @module
 */

const IPV4_PART = /^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$/;
const IPV6_CHARS = /^[0-9A-Fa-f:.]+$/;
const HOST_LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/** Whether `value` is a dotted-quad IPv4 address with no leading zeros. */
export function isIPv4(value: string): boolean {
  const parts = value.split(".");
  return parts.length === 4 && parts.every((part) => IPV4_PART.test(part));
}

/** Whether `value` is an IPv6 address without brackets or zone. */
export function isIPv6(value: string): boolean {
  if (!value.includes(":") || !IPV6_CHARS.test(value)) return false;
  // The URL parser applies RFC 4291's rules (one "::", eight groups, an
  // embedded IPv4 tail); the character check keeps anything else out.
  try {
    return new URL(`http://[${value}]/`).hostname !== "";
  } catch {
    return false;
  }
}

/** Whether `value` is an IPv4 or IPv6 address. */
export function isIpLiteral(value: string): boolean {
  return isIPv4(value) || isIPv6(value);
}

/** Whether `value` is an RFC 1123 host name (no trailing dot, no wildcard). */
export function isHostName(value: string): boolean {
  return value.length > 0 && value.length <= 253 &&
    value.split(".").every((label) => HOST_LABEL.test(label)) &&
    // All-numeric names are addresses gone wrong (999.1.1.1), not names.
    !/^[0-9.]+$/.test(value);
}

/** Whether `value` is an integer port, 1 to 65535. */
export function isPort(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 1 &&
    value <= 65535;
}

/** `address:port`, an IPv6 address in brackets, as URLs and HAProxy write it. */
export function hostPort(address: string, port: number): string {
  return `${address.includes(":") ? `[${address}]` : address}:${port}`;
}
