/**
 * Reads Docker's event stream: newline-delimited JSON objects.
 *
 * @module
 */

/** A Docker event, narrowed to what docker-glue uses. */
export interface DockerEvent {
  /** Object type: `container`, `network`, `image`, ... */
  readonly type: string;
  /**
   * What happened: `start`, `die`, ... Health events arrive as
   * `health_status: healthy`; this holds `health_status` and
   * {@link DockerEvent.detail} holds `healthy`.
   */
  readonly action: string;
  /** Text after `: ` in the action, or "". */
  readonly detail: string;
  /** Id of the object (the container id for container events). */
  readonly id: string;
  /** Unix time in seconds. */
  readonly time: number;
  /** Unix time in nanoseconds, digits as Docker sent them, for de-duplication. */
  readonly timeNano: string;
  /** Actor attributes (container name, image, labels ...). */
  readonly attributes: Readonly<Record<string, string>>;
}

/**
 * Turns one parsed JSON value into an event, or null when it lacks the fields
 * every event has (type, action, id, time).
 */
export function toEvent(value: unknown): DockerEvent | null {
  if (value === null || typeof value !== "object") return null;
  const doc = value as Record<string, unknown>;
  const actor = (doc.Actor ?? {}) as Record<string, unknown>;
  const fullAction = typeof doc.Action === "string"
    ? doc.Action
    : typeof doc.status === "string"
    ? doc.status
    : "";
  const id = typeof actor.ID === "string"
    ? actor.ID
    : typeof doc.id === "string"
    ? doc.id
    : "";
  const type = typeof doc.Type === "string" ? doc.Type : "";
  const time = typeof doc.time === "number" ? doc.time : NaN;
  if (fullAction === "" || id === "" || type === "" || !Number.isFinite(time)) {
    return null;
  }
  const colon = fullAction.indexOf(":");
  const attributes: Record<string, string> = {};
  if (actor.Attributes !== null && typeof actor.Attributes === "object") {
    for (const [key, val] of Object.entries(actor.Attributes)) {
      if (typeof val === "string") attributes[key] = val;
    }
  }
  return {
    type,
    action: colon >= 0 ? fullAction.slice(0, colon).trim() : fullAction,
    // Podman sends a health event's status in a field of its own.
    detail: colon >= 0
      ? fullAction.slice(colon + 1).trim()
      : typeof doc.HealthStatus === "string"
      ? doc.HealthStatus
      : "",
    id,
    time,
    timeNano: typeof doc.timeNano === "number"
      ? String(doc.timeNano)
      : String(time * 1e9),
    attributes,
  };
}

/** What {@link readEvents} yields: an event, or a line it could not use. */
export type EventLine =
  | { readonly event: DockerEvent }
  | { readonly skipped: string };

/**
 * Splits a byte or text stream into lines and parses each as an event. Lines
 * that are not JSON or not events are yielded as `skipped` so the caller can
 * log them; a partial last line is dropped when the stream ends.
 */
export async function* readEvents(
  chunks: AsyncIterable<Uint8Array | string>,
): AsyncGenerator<EventLine> {
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of chunks) {
    buffer += typeof chunk === "string"
      ? chunk
      : decoder.decode(chunk, { stream: true });
    let newline;
    while ((newline = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, newline).trim();
      buffer = buffer.slice(newline + 1);
      if (line === "") continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        yield { skipped: line };
        continue;
      }
      const event = toEvent(parsed);
      if (event === null) {
        yield { skipped: line };
        continue;
      }
      // JSON numbers lose the last digits of a nanosecond time; keep Docker's.
      const nano = /"timeNano"\s*:\s*([0-9]+)/.exec(line)?.[1];
      yield {
        event: nano === undefined ? event : { ...event, timeNano: nano },
      };
    }
  }
}

/**
 * Remembers the events of the last few seconds, so the replay that follows a
 * reconnect (Docker resumes `since` a whole second) is not handled twice.
 * Docker does not send events in strict time order, so comparing times alone
 * would drop real events; each event is recognized by time, id and action.
 */
export class RecentEvents {
  readonly #seen = new Map<string, number>();
  readonly #windowS: number;

  /** Keeps events for `windowS` seconds of event time. */
  constructor(windowS = 2) {
    this.#windowS = windowS;
  }

  /** Records the event; returns false when it was seen already. */
  add(event: DockerEvent): boolean {
    const key = `${event.timeNano} ${event.id} ${event.action} ${event.detail}`;
    if (this.#seen.has(key)) return false;
    this.#seen.set(key, event.time);
    // Insertion order is close to time order; stop at the first recent one.
    for (const [old, time] of this.#seen) {
      if (time >= event.time - this.#windowS) break;
      this.#seen.delete(old);
    }
    return true;
  }

  /** How many events are remembered. */
  get size(): number {
    return this.#seen.size;
  }
}
