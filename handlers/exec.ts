/**
 * The script handler: runs an executable on each event as
 * `script <ini file> <event> <container id>`, without a shell.
 *
 * INI params: `script` (absolute path, or a name looked up in the script
 * paths), `timeout` (seconds, default 30; the script is killed after it)
 * and `concurrency` (scripts of different containers at once, default 4;
 * each container's events run one after the other, in order).
 *
 * A script gets the event as soon as it is read from Docker, before the
 * agent inspects the container: it needs only the event and the id.
 *
 * @module
 */

import { errorMessage } from "../lib/util/error_message.ts";
import { checkTrusted } from "../lib/agent/file_trust.ts";
import { getLogger } from "@logtape/logtape";
import {
  BaseHandler,
  HandlerDisabledError,
} from "../lib/agent/base_handler.ts";
import { ReportedError } from "../lib/util/reported_error.ts";
import { resolveScript } from "../lib/agent/paths.ts";

const log = getLogger(["docker-glue", "script"]);

/** Scripts of different containers run at once, by default. */
export const DEFAULT_SCRIPT_CONCURRENCY = 4;
/** Default script timeout. */
export const DEFAULT_SCRIPT_TIMEOUT_S = 30;
/** Output kept per stream; the rest is read and dropped. */
const OUTPUT_LIMIT = 64 * 1024;
/** Time between SIGTERM and SIGKILL for a script past its timeout. */
const KILL_GRACE_MS = 2000;

/**
 * util-linux's setsid, when installed: it gives the script a session and
 * process group of its own (so a timeout kills what it started too) and
 * execs it in the same process. Deno's `detached` does the same by forking
 * the whole runtime, which takes several milliseconds per script, and tens
 * while the host is busy starting containers.
 */
const SETSID = ["/usr/bin/setsid", "/bin/setsid"].find((path) => {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
});

/** Reads a stream to the end, keeping at most `limit` bytes. */
async function drain(
  stream: ReadableStream<Uint8Array>,
  limit: number,
): Promise<{ text: string; dropped: number }> {
  const kept: Uint8Array[] = [];
  let size = 0;
  let dropped = 0;
  for await (const chunk of stream) {
    const room = limit - size;
    if (room > 0) {
      kept.push(chunk.subarray(0, room));
      size += Math.min(room, chunk.length);
    }
    dropped += Math.max(0, chunk.length - Math.max(room, 0));
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const part of kept) {
    all.set(part, at);
    at += part.length;
  }
  return { text: new TextDecoder().decode(all), dropped };
}

/** Runs a handler script for every event it is given. */
export class ScriptHandler extends BaseHandler {
  #script: string | null = null;
  #timeoutMs = DEFAULT_SCRIPT_TIMEOUT_S * 1000;
  #concurrency = DEFAULT_SCRIPT_CONCURRENCY;

  /** A script gets the event and the id; it inspects for itself if it needs to. */
  readonly eventOnly = true;

  /** Scripts of different containers that may run at once. */
  get concurrency(): number {
    return this.#concurrency;
  }

  /** Finds the script; a missing one switches the handler off. */
  override async init(): Promise<void> {
    const script = this.param("script");
    if (script === undefined || script.trim() === "") {
      throw new TypeError("[params] has no script=");
    }
    const timeout = this.param("timeout");
    if (timeout !== undefined) {
      const seconds = Number(timeout);
      if (!/^[0-9]+(\.[0-9]+)?$/.test(timeout.trim()) || seconds <= 0) {
        throw new TypeError(
          `[params] timeout: expected a positive number of seconds, got ${
            JSON.stringify(timeout)
          }`,
        );
      }
      this.#timeoutMs = Math.round(seconds * 1000);
    }
    const concurrency = this.param("concurrency");
    if (concurrency !== undefined) {
      if (!/^[1-9][0-9]{0,2}$/.test(concurrency.trim())) {
        throw new TypeError(
          `[params] concurrency: expected a whole number from 1 to 999, got ${
            JSON.stringify(concurrency)
          }`,
        );
      }
      this.#concurrency = Number(concurrency.trim());
    }
    this.#script = await resolveScript(script.trim(), this.agent.scriptPaths);
    if (this.#script !== null) {
      await checkTrusted(this.#script, this.agent.uid, "handler script");
    }
    if (this.#script === null) {
      throw new HandlerDisabledError(
        `script ${JSON.stringify(script)} is not an executable file${
          script.startsWith("/")
            ? ""
            : ` in the script paths (${this.agent.scriptPaths.join(":")})`
        }; handler disabled`,
      );
    }
  }

  /** Where the script was found. */
  get script(): string | null {
    return this.#script;
  }

  /**
   * Runs the script and waits for it, killing it (and anything it started)
   * after the timeout. Exit status and standard error are logged.
   */
  async handle(event: string, containerId: string): Promise<void> {
    const script = this.#script;
    if (script === null) throw new Error("ScriptHandler used before init()");
    const name = script.slice(script.lastIndexOf("/") + 1);
    const id = containerId ? ` ${containerId.slice(0, 12)}` : "";
    let child: Deno.ChildProcess;
    try {
      const args = [this.iniFile, event, containerId];
      child = new Deno.Command(SETSID ?? script, {
        args: SETSID === undefined ? args : [script, ...args],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        // Its own process group, so a timeout kills what it started too.
        detached: SETSID === undefined,
      }).spawn();
    } catch (error) {
      if (error instanceof Deno.errors.NotCapable) throw error;
      log.error(
        "Script {name} ({ini}) could not start on {event}{id}: {error}",
        {
          name,
          ini: this.iniFile,
          event,
          id,
          error: errorMessage(error),
        },
      );
      throw new ReportedError(errorMessage(error));
    }
    let timedOut = false;
    const kill = (signal: Deno.Signal) => {
      try {
        Deno.kill(-child.pid, signal);
      } catch {
        // already gone
      }
    };
    let grace: ReturnType<typeof setTimeout> | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      kill("SIGTERM");
      grace = setTimeout(() => kill("SIGKILL"), KILL_GRACE_MS);
    }, this.#timeoutMs);
    const [status, , stderr] = await Promise.all([
      child.status,
      drain(child.stdout, OUTPUT_LIMIT),
      drain(child.stderr, OUTPUT_LIMIT),
    ]).finally(() => {
      clearTimeout(timer);
      clearTimeout(grace);
    });
    const lines = stderr.text.split("\n").map((l) => l.trimEnd()).filter((l) =>
      l !== ""
    );
    const props = { name, ini: this.iniFile, event, id, code: status.code };
    if (timedOut) {
      log.error(
        "Script {name} ({ini}) killed on {event}{id} after {seconds} s",
        {
          ...props,
          seconds: this.#timeoutMs / 1000,
        },
      );
    } else if (!status.success) {
      log.warn(
        "Script {name} ({ini}) exited with status {code} on {event}{id}",
        props,
      );
    } else {
      log.debug("Script {name} ({ini}) done on {event}{id}", props);
    }
    const ok = status.success && !timedOut;
    const report = (message: string, values: Record<string, unknown>) =>
      ok ? log.info(message, values) : log.warn(message, values);
    for (const line of lines.slice(0, 20)) {
      report("Script {name} stderr: {line}", { name, line });
    }
    if (lines.length > 20 || stderr.dropped > 0) {
      report(
        "Script {name} stderr: ({more} more lines, {dropped} bytes dropped)",
        { name, more: Math.max(0, lines.length - 20), dropped: stderr.dropped },
      );
    }
    if (timedOut || !status.success) {
      throw new ReportedError(`script ${name} failed`);
    }
  }
}
