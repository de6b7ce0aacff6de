/**
 * The DNS-01 hook (`--acme-dns-hook <program>`): run as
 * `<program> present <fqdn> <value>` before the CA validates and
 * `<program> cleanup <fqdn> <value>` after, the convention of lego's exec
 * provider, so scripts written for it work unchanged. The FQDN is the
 * record's name with a trailing dot (`_acme-challenge.example.com.`), the
 * value the TXT record's text. Run from an argv array, never a shell.
 *
 * @module
 */

import { errorMessage } from "../util/error_message.ts";
import { getLogger } from "@logtape/logtape";
import type { ChallengeResponder } from "./challenges.ts";

const log = getLogger(["docker-glue", "acme"]);

/** How long one run of the hook may take before it is killed and the order fails. */
export const DNS_HOOK_TIMEOUT_MS = 120_000;

/** Output kept from the hook's standard error, for the error message. */
const STDERR_LIMIT = 2000;

/** The TXT record's name for a name being validated (a wildcard's base name). */
export function challengeRecord(identifier: string): string {
  return `_acme-challenge.${identifier.replace(/^\*\./, "")}.`;
}

/** Runs the hook; the one who calls it decides what a failure costs. */
export class DnsHook {
  readonly #program: string;
  readonly #timeoutMs: number;

  /** `program` is an absolute path. */
  constructor(program: string, timeoutMs = DNS_HOOK_TIMEOUT_MS) {
    this.#program = program;
    this.#timeoutMs = timeoutMs;
  }

  /**
   * Runs `<program> <action> <fqdn> <value>` and waits for it.
   *
   * @throws {Error} naming the hook, the action and the record when it
   * cannot start, exits non-zero (with its last words) or outlives the
   * timeout; or when `signal` aborts.
   */
  async run(
    action: "present" | "cleanup",
    fqdn: string,
    value: string,
    signal?: AbortSignal,
  ): Promise<void> {
    // The CA's values are base64url and names are checked host names; a
    // hook still never sees anything else.
    if (!/^[A-Za-z0-9_.-]+$/.test(fqdn) || !/^[A-Za-z0-9_-]+$/.test(value)) {
      throw new TypeError(
        `Unexpected characters in the DNS-01 record ${JSON.stringify(fqdn)}`,
      );
    }
    const what = `${this.#program} ${action} ${fqdn}`;
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(this.#program, {
        args: [action, fqdn, value],
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).spawn();
    } catch (error) {
      if (error instanceof Deno.errors.NotCapable) throw error;
      throw new Error(
        `DNS hook ${what} could not start: ${errorMessage(error)}`,
      );
    }
    const kill = () => {
      try {
        child.kill("SIGKILL");
      } catch {
        // gone already
      }
    };
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, this.#timeoutMs);
    signal?.addEventListener("abort", kill, { once: true });
    try {
      const text = new Response(child.stderr).text();
      const status = await child.status;
      // Something the hook started may hold its stderr open: its words are
      // not worth waiting for.
      let wait: ReturnType<typeof setTimeout> | undefined;
      const stderr = await Promise.race([
        text,
        new Promise<string>((r) => wait = setTimeout(() => r(""), 1000)),
      ]);
      clearTimeout(wait);
      signal?.throwIfAborted();
      if (timedOut) {
        throw new Error(
          `DNS hook ${what} killed after ${this.#timeoutMs / 1000} s`,
        );
      }
      if (!status.success) {
        const said = stderr.trim().split("\n").slice(-3).join(" / ")
          .slice(-STDERR_LIMIT);
        throw new Error(
          `DNS hook ${what} exited with status ${status.code}${
            said === "" ? "" : `: ${said}`
          }`,
        );
      }
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", kill);
    }
  }
}

/** An ACME authorization and challenge, as much of them as the answers read. */
interface Authz {
  readonly identifier: { readonly value: string };
}
interface Challenge {
  readonly type: string;
  readonly token: string;
}

/**
 * The ACME client's challenge functions: DNS-01 through the hook (when
 * there is one), HTTP-01 through HAProxy's map. A failed cleanup costs no
 * certificate: it is logged, with the record that may be left behind.
 */
export function answers(
  hook: DnsHook | null,
  responder: ChallengeResponder,
  signal: AbortSignal,
): {
  challengeCreateFn(a: Authz, c: Challenge, key: string): Promise<void>;
  challengeRemoveFn(a: Authz, c: Challenge, key: string): Promise<void>;
} {
  return {
    async challengeCreateFn(authz, challenge, keyAuthorization) {
      if (challenge.type === "dns-01" && hook !== null) {
        const fqdn = challengeRecord(authz.identifier.value);
        await hook.run("present", fqdn, keyAuthorization, signal);
        return;
      }
      await responder.publish(challenge.token, keyAuthorization, signal);
    },
    async challengeRemoveFn(authz, challenge, keyAuthorization) {
      if (challenge.type === "dns-01" && hook !== null) {
        const fqdn = challengeRecord(authz.identifier.value);
        await hook.run("cleanup", fqdn, keyAuthorization).catch((error) =>
          log.warn("ACME: {error}; the TXT record {fqdn} may be left behind", {
            error: errorMessage(error),
            fqdn,
          })
        );
        return;
      }
      await responder.withdraw(challenge.token);
    },
  };
}
