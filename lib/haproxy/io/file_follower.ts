/**
 * When the file follows a runtime change. The runtime API changes HAProxy
 * at once; rendering, checking and writing the whole file comes after,
 * once the updates already asked for have run (the last of them takes the
 * file over), or between two of them when it has fallen
 * {@link FILE_LAG_MS} behind in a long burst.
 *
 * @module
 */

import type { Companions } from "../model/companions.ts";
import type { HAProxyModel } from "../model/model.ts";
import type { RenderInput } from "../render/render.ts";

/**
 * How far the file may fall behind a runtime change while updates keep
 * coming: past this it is written between two updates.
 */
export const FILE_LAG_MS = 1_000;

/** How often a due file looks again while updates run, ms. */
const LOOK_AGAIN_MS = 20;

/** A runtime change whose file is still to be written. */
export interface FileDue {
  /** What the file renders. */
  readonly table: RenderInput;
  /** Its maps and certificates. */
  readonly companions: Companions;
  /** What HAProxy runs since the change, typed. */
  readonly model: HAProxyModel;
  /** When the first change it carries was made, epoch ms. */
  readonly since: number;
}

/** What the follower needs of the engine. */
export interface FollowerHooks {
  /** Whether an update is asked for or runs. */
  busy(): boolean;
  /** Queues the writing of the file behind the updates; it takes {@link FileFollower.take}. */
  write(): void;
}

/** Keeps the file due after runtime changes and says when to write it. */
export class FileFollower {
  readonly #hooks: FollowerHooks;
  #due: FileDue | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(hooks: FollowerHooks) {
    this.#hooks = hooks;
  }

  /** Whether a file is due. */
  get pending(): boolean {
    return this.#due !== null;
  }

  /** A runtime change was made: its file is due (replacing an older one). */
  due(table: RenderInput, companions: Companions, model: HAProxyModel): void {
    const since = this.#due?.since ?? Date.now();
    this.#due = { table, companions, model, since };
    if (this.#timer === undefined) this.#look(0);
  }

  /** Takes the file due, if any, to write it now. */
  take(): FileDue | null {
    const due = this.#due;
    this.#due = null;
    this.#stop();
    return due;
  }

  /** Forgets the file due: something else wrote the file. */
  drop(): void {
    this.#due = null;
    this.#stop();
  }

  #look(ms: number): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      const due = this.#due;
      if (due === null) return;
      if (this.#hooks.busy() && Date.now() - due.since < FILE_LAG_MS) {
        this.#look(LOOK_AGAIN_MS);
        return;
      }
      this.#hooks.write();
    }, ms);
  }

  #stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
