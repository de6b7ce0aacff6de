/**
 * A latch: shut until something has happened once (a first read), then
 * open for good. Others wait for it with a time limit.
 *
 * @module
 */

/** Shut until {@link Latch.open}; then open for good. */
export class Latch {
  #open = false;
  #waiters: (() => void)[] = [];

  /** Whether it has opened. */
  get isOpen(): boolean {
    return this.#open;
  }

  /** Opens it and wakes every waiter; later calls do nothing. */
  open(): void {
    if (this.#open) return;
    this.#open = true;
    for (const wake of this.#waiters.splice(0)) wake();
  }

  /** Resolves true once open, or false after `ms`. */
  wait(ms: number): Promise<boolean> {
    if (this.#open) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      this.#waiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }
}
