/**
 * Who may see the status page. It shows routes, internal addresses,
 * allow-lists and the log, so by default only loopback clients get it;
 * `--metrics-auth <file>` lets anyone in with the user and password that
 * file holds, checked here with HTTP basic authentication. `/metrics` and
 * `/healthz` are not behind it: Prometheus and load balancers read them.
 *
 * @module
 */

import { isIPv4 } from "../util/net_address.ts";

/** The one login `--metrics-auth` names. */
export interface PageLogin {
  readonly user: string;
  readonly password: string;
}

/** Whether a client address is on this host's loopback. */
export function isLoopback(hostname: string): boolean {
  const bare = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  if (bare === "::1") return true;
  const v4 = bare.startsWith("::ffff:") ? bare.slice(7) : bare;
  return isIPv4(v4) && v4.startsWith("127.");
}

/**
 * Reads `user:password` from the first line of `file`. A file that other
 * users can read is refused, as is one without both parts.
 *
 * @throws {Error} naming the file and what is wrong with it.
 */
export async function readPageLogin(file: string): Promise<PageLogin> {
  const mode = (await Deno.stat(file)).mode ?? 0;
  if (mode & 0o044) {
    throw new Error(
      `--metrics-auth file ${file} can be read by other users (mode ${
        (mode & 0o777).toString(8)
      }): chmod 600 it`,
    );
  }
  const line = (await Deno.readTextFile(file)).split("\n")[0]?.trim() ?? "";
  const colon = line.indexOf(":");
  const user = colon < 0 ? "" : line.slice(0, colon);
  const password = colon < 0 ? "" : line.slice(colon + 1);
  const printable = [...line].every((c) => c >= " " && c !== "\x7f");
  if (user === "" || password === "" || !printable) {
    throw new Error(
      `--metrics-auth file ${file}: expected one line user:password`,
    );
  }
  return { user, password };
}

/** Compares in time that depends on the lengths only, not where they differ. */
function sameText(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  }
  return diff === 0;
}

/** Whether an `Authorization` header carries `login`. */
export function authorized(
  header: string | null,
  login: PageLogin,
): boolean {
  const match = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(header?.trim() ?? "");
  if (match === null) return false;
  let given: string;
  try {
    given = new TextDecoder("utf-8", { fatal: true }).decode(
      Uint8Array.from(atob(match[1]!), (c) => c.charCodeAt(0)),
    );
  } catch {
    return false;
  }
  return sameText(given, `${login.user}:${login.password}`);
}

/**
 * What the page answers a client before anything is shown: null to show
 * it, or the refusal.
 */
export function pageRefusal(
  request: Request,
  clientHost: string,
  login: PageLogin | undefined,
): Response | null {
  if (login !== undefined) {
    if (authorized(request.headers.get("authorization"), login)) return null;
    return new Response("The status page needs the --metrics-auth login.\n", {
      status: 401,
      headers: {
        "www-authenticate": 'Basic realm="docker-glue", charset="UTF-8"',
        "content-type": "text/plain; charset=utf-8",
      },
    });
  }
  if (isLoopback(clientHost)) return null;
  return new Response(
    "The status page answers clients on this host only; start with --metrics-auth <file> to let others in with a password (docs/observing.md). /metrics and /healthz answer everyone.\n",
    { status: 403, headers: { "content-type": "text/plain; charset=utf-8" } },
  );
}
