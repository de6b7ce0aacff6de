/**
 * Coalesces bursts of triggers into few runs of an async task.
 *
 * @module
 */

/** Quiet window and maximum wait, in milliseconds. */
export interface DebounceTiming {
  /** Run once no trigger came for this long. */
  readonly quietMs: number;
  /** Run at the latest this long after the first trigger of a burst. */
  readonly maxMs: number;
}

/**
 * Parses `--debounce`: `QUIET[:MAX]`, each a number of milliseconds or a
 * duration such as `500ms` or `2s`. `0` turns debouncing off. MAX defaults to
 * six times QUIET and is never below it.
 *
 * @throws {SyntaxError} for anything else.
 */
export function parseDebounce(value: string): DebounceTiming {
  const parts = value.split(":");
  if (parts.length > 2) {
    throw new SyntaxError(
      `Invalid debounce "${value}": expected QUIET[:MAX], for example 500ms:3s`,
    );
  }
  const quietMs = parseDuration(parts[0] ?? "", value);
  const maxMs = parts[1] === undefined
    ? quietMs * 6
    : parseDuration(parts[1], value);
  return { quietMs, maxMs: Math.max(quietMs, maxMs) };
}

function parseDuration(text: string, whole: string): number {
  const match = /^([0-9]+(?:\.[0-9]+)?)(ms|s)?$/.exec(text.trim());
  if (match === null) {
    throw new SyntaxError(
      `Invalid debounce "${whole}": "${text}" is not a duration such as 500ms or 2s`,
    );
  }
  const amount = Number(match[1]);
  return Math.round(match[2] === "s" ? amount * 1000 : amount);
}

/**
 * Runs `task` after a burst of {@link Debouncer.trigger} calls settles. Runs
 * never overlap: a trigger during a run schedules one more run after it.
 */
export class Debouncer {
  readonly #task: () => Promise<void>;
  readonly #timing: DebounceTiming;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #firstAt: number | undefined;
  #running: Promise<void> | null = null;
  #again = false;
  #stopped = false;

  /** Creates a debouncer; `task` should not throw (errors are swallowed). */
  constructor(task: () => Promise<void>, timing: DebounceTiming) {
    this.#task = task;
    this.#timing = timing;
  }

  /**
   * Notes a change; the task runs after the quiet window or the maximum
   * wait. Ignored once {@link Debouncer.stop} was called.
   */
  trigger(): void {
    if (this.#stopped) return;
    const now = Date.now();
    this.#firstAt ??= now;
    clearTimeout(this.#timer);
    const wait = Math.max(
      0,
      Math.min(this.#timing.quietMs, this.#firstAt + this.#timing.maxMs - now),
    );
    this.#timer = setTimeout(() => this.#fire(), wait);
  }

  /** Runs a pending task now and waits until no run is in progress. */
  async flush(): Promise<void> {
    if (this.#timer !== undefined) this.#fire();
    while (this.#running !== null) await this.#running;
  }

  /**
   * Drops a pending run and waits for one in progress to finish. For good:
   * later triggers are ignored, so nothing runs after its owner closed.
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#firstAt = undefined;
    this.#again = false;
    while (this.#running !== null) await this.#running;
  }

  #fire(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#firstAt = undefined;
    if (this.#running !== null) {
      this.#again = true;
      return;
    }
    this.#running = (async () => {
      try {
        do {
          this.#again = false;
          await this.#task().catch(() => {});
        } while (this.#again && !this.#stopped);
      } finally {
        this.#running = null;
      }
    })();
  }
}
