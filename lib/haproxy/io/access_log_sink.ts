/**
 * Where a managed HAProxy's access log lines go once read from its standard
 * output: our standard output, or a file reopened on request (log rotation
 * moves the file away, then asks for a new one). Lines are written in
 * order, in batches; a failed write is reported, never thrown at HAProxy's
 * reader, and the lines it held are counted as lost.
 *
 * @module
 */

import { errorMessage } from "../../util/error_message.ts";
import { dirname } from "../../util/files.ts";

/** Takes access log lines. */
export interface AccessLogSink {
  /** Queues one line (without its newline). */
  write(line: string): void;
  /** Opens the file again under its name (SIGUSR1); nothing for a stream. */
  reopen(): Promise<void>;
  /** Writes what is queued and closes. */
  close(): Promise<void>;
}

/** What a sink reports: this module does not log. */
export type SinkFailure = (message: string, lost: number) => void;

const encoder = new TextEncoder();

/** An open file or stream: what a sink writes to. */
interface Output {
  write(bytes: Uint8Array): Promise<number>;
  close(): void;
}

/** How a sink gets its output and gives it back. */
interface Destination {
  open(): Promise<Output>;
  release(output: Output): void;
}

/** Writes all of `bytes`: one call may take only part. */
async function writeAll(output: Output, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.length) done += await output.write(bytes.subarray(done));
}

/** Writes queued lines to a destination, a batch at a time, in order. */
class BatchedSink implements AccessLogSink {
  readonly #destination: Destination;
  readonly #onFailure: SinkFailure;
  #output: Output | null = null;
  #queue: string[] = [];
  // Batches, reopens and the close run one after the other on this chain,
  // which never rejects: each step reports its own failure.
  #chain: Promise<void> = Promise.resolve();
  #scheduled = false;
  #failing = false;

  constructor(destination: Destination, onFailure: SinkFailure) {
    this.#destination = destination;
    this.#onFailure = onFailure;
  }

  write(line: string): void {
    this.#queue.push(line);
    if (this.#scheduled) return;
    this.#scheduled = true;
    this.#chain = this.#chain.then(() => this.#flush());
  }

  // The next batch opens the destination again.
  reopen(): Promise<void> {
    return this.close();
  }

  close(): Promise<void> {
    this.#chain = this.#chain.then(() => this.#flush()).then(() =>
      this.#release()
    );
    return this.#chain;
  }

  async #flush(): Promise<void> {
    this.#scheduled = false;
    const lines = this.#queue;
    this.#queue = [];
    if (lines.length === 0) return;
    try {
      this.#output ??= await this.#destination.open();
      await writeAll(this.#output, encoder.encode(lines.join("\n") + "\n"));
      this.#failing = false;
    } catch (error) {
      this.#release();
      // Said once per run of failures, not once per batch.
      if (!this.#failing) this.#onFailure(errorMessage(error), lines.length);
      this.#failing = true;
    }
  }

  #release(): void {
    const output = this.#output;
    this.#output = null;
    if (output === null) return;
    try {
      this.#destination.release(output);
    } catch (error) {
      this.#onFailure(`closing: ${errorMessage(error)}`, 0);
    }
  }
}

/** Our standard output: systemd's journal, or the terminal. */
export function stdoutSink(onFailure: SinkFailure): AccessLogSink {
  return new BatchedSink({
    open: () => Promise.resolve(Deno.stdout),
    // Standard output stays open for the life of the process.
    release: () => {},
  }, onFailure);
}

/** A file, appended to and created (mode 0640, in a directory of 0750) when missing. */
export function fileSink(path: string, onFailure: SinkFailure): AccessLogSink {
  return new BatchedSink({
    open: async () => {
      await Deno.mkdir(dirname(path), { recursive: true, mode: 0o750 });
      return await Deno.open(path, { append: true, create: true, mode: 0o640 });
    },
    release: (file) => file.close(),
  }, onFailure);
}
