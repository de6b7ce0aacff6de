/**
 * Named one-shot timers: setting a name again replaces its timer, so an
 * owner keeps at most one of each kind and can drop them all when it closes.
 *
 * @module
 */

/** One-shot timers by name. */
export class Timers<Name extends string> {
  readonly #timers = new Map<Name, ReturnType<typeof setTimeout>>();

  /** Runs `task` once after `ms`, replacing the timer of that name. */
  set(name: Name, ms: number, task: () => void): void {
    this.clear(name);
    this.#timers.set(
      name,
      setTimeout(() => {
        this.#timers.delete(name);
        task();
      }, Math.max(0, ms)),
    );
  }

  /** Whether a timer of that name waits. */
  has(name: Name): boolean {
    return this.#timers.has(name);
  }

  /** Drops the timer of that name, if any. */
  clear(name: Name): void {
    clearTimeout(this.#timers.get(name));
    this.#timers.delete(name);
  }

  /** Drops every timer. */
  clearAll(): void {
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }
}
