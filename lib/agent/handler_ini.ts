/**
 * The handler INI format: a `[handler]` section saying which class runs on
 * which events, and a `[params]` section for the handler itself.
 *
 * ```ini
 * [handler]
 * class=DockerGlue.handlers.exec.ScriptHandler
 * events=start,die
 * enabled=1
 * triggers-none=0
 * [params]
 * script=test-handler.sh
 * ```
 *
 * @module
 */

// @ts-types="@types/ini"
import ini from "ini";
import { errorMessage } from "../util/error_message.ts";
import { type EventSelector, parseEvents } from "../docker/event_selector.ts";

/** A parsed handler INI file. */
export interface HandlerIni {
  /** Path of the file. */
  readonly file: string;
  /** `[handler] class`. */
  readonly className: string;
  /** `[handler] events`. */
  readonly events: EventSelector;
  /** `[handler] enabled` (default on). */
  readonly enabled: boolean;
  /** `[handler] triggers-none` (default off). */
  readonly triggersNone: boolean;
  /** `[handler] timeout` in milliseconds: how long one event may take. */
  readonly timeoutMs: number;
  /** `[params]`, every value as a string. */
  readonly params: Readonly<Record<string, string>>;
  /** Every section as parsed, for handlers that read more than `[params]`. */
  readonly sections: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** Things worth a warning that do not stop the handler. */
  readonly warnings: readonly string[];
}

/** Default `[handler] timeout`: 120 s. */
export const DEFAULT_HANDLER_TIMEOUT_MS = 120_000;

const HANDLER_KEYS = new Set([
  "class",
  "events",
  "enabled",
  "triggers-none",
  "timeout",
]);

/** A handler file that cannot be used; the message starts with the file name. */
export class HandlerFileError extends Error {
  /** The INI file at fault. */
  readonly file: string;

  /** Creates the error for `file`. */
  constructor(file: string, message: string, options?: ErrorOptions) {
    super(`${file}: ${message}`, options);
    this.name = "HandlerFileError";
    this.file = file;
  }
}

/**
 * Parses a boolean the way Python's configparser does (the original read
 * these with `getboolean`): 1/yes/true/on and 0/no/false/off, any case.
 *
 * @throws {TypeError} for anything else.
 */
export function parseBoolean(value: string): boolean {
  const v = value.trim().toLowerCase();
  if (["1", "yes", "true", "on"].includes(v)) return true;
  if (["0", "no", "false", "off"].includes(v)) return false;
  throw new TypeError(
    `expected 1/0, yes/no, true/false or on/off, got ${JSON.stringify(value)}`,
  );
}

function stringSection(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return out;
  }
  for (const [key, val] of Object.entries(value)) {
    if (typeof val === "string") out[key] = val;
    else if (typeof val === "boolean") out[key] = val ? "true" : "";
    else if (Array.isArray(val)) out[key] = val.map(String).join(",");
  }
  return out;
}

/** Largest handler file read; anything bigger is a mistake, not a config. */
export const MAX_HANDLER_FILE_BYTES = 1024 * 1024;

/**
 * Finds a key given twice in one section, which the INI parser would settle
 * silently by keeping the last one.
 */
function duplicateKey(text: string): string | null {
  const seen = new Set<string>();
  let section = "";
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? "").trim();
    if (line === "" || line.startsWith(";") || line.startsWith("#")) continue;
    const header = /^\[(.*)\]$/.exec(line);
    if (header !== null) {
      section = (header[1] ?? "").trim();
      continue;
    }
    const eq = line.indexOf("=");
    const key = (eq < 0 ? line : line.slice(0, eq)).trim();
    if (key.endsWith("[]")) continue;
    const id = `${section}\n${key}`;
    if (seen.has(id)) {
      return `duplicate key ${JSON.stringify(key)} in [${section}] (line ${
        i + 1
      })`;
    }
    seen.add(id);
  }
  return null;
}

/**
 * The sections of a handler file, each key's value a string.
 *
 * @throws {HandlerFileError} for a file that is not text, too large, with a
 * key given twice, or that does not parse.
 */
function iniSections(
  file: string,
  text: string,
): Record<string, Record<string, string>> {
  if (text.includes("\u0000") || text.includes("\uFFFD")) {
    throw new HandlerFileError(file, "not a text file (binary or not UTF-8)");
  }
  if (text.length > MAX_HANDLER_FILE_BYTES) {
    throw new HandlerFileError(
      file,
      `too large (${text.length} characters; handler files are limited to ${MAX_HANDLER_FILE_BYTES} bytes)`,
    );
  }
  const duplicate = duplicateKey(text);
  if (duplicate !== null) throw new HandlerFileError(file, duplicate);
  let doc: Record<string, unknown>;
  try {
    doc = ini.decode(text) as Record<string, unknown>;
  } catch (error) {
    throw new HandlerFileError(
      file,
      `cannot parse: ${errorMessage(error)}`,
    );
  }
  const sections: Record<string, Record<string, string>> = {};
  for (const [name, value] of Object.entries(doc)) {
    if (value !== null && typeof value === "object" && !Array.isArray(value)) {
      sections[name] = stringSection(value);
    }
  }
  return sections;
}

/**
 * Parses a handler file's text.
 *
 * @throws {HandlerFileError} naming the file and what is wrong.
 */
export function parseHandlerIni(file: string, text: string): HandlerIni {
  const sections = iniSections(file, text);
  const handler = sections["handler"];
  if (handler === undefined) {
    throw new HandlerFileError(file, "no [handler] section");
  }
  const className = (handler["class"] ?? "").trim();
  if (className === "") {
    throw new HandlerFileError(file, "[handler] has no class=");
  }
  const field = <T>(key: string, parse: (v: string) => T, fallback: T): T => {
    const raw = handler[key];
    if (raw === undefined) return fallback;
    try {
      return parse(raw);
    } catch (error) {
      throw new HandlerFileError(
        file,
        `[handler] ${key}: ${errorMessage(error)}`,
      );
    }
  };
  if (handler["events"] === undefined) {
    throw new HandlerFileError(
      file,
      "[handler] has no events= (use all, none or a list such as start,die)",
    );
  }
  const events = field("events", parseEvents, {
    all: false,
    none: false,
    names: new Set<string>(),
  });
  const timeoutMs = field("timeout", (v) => {
    const seconds = Number(v);
    if (!/^[0-9]+(\.[0-9]+)?$/.test(v.trim()) || seconds <= 0) {
      throw new TypeError(
        `expected a positive number of seconds, got ${JSON.stringify(v)}`,
      );
    }
    return Math.round(seconds * 1000);
  }, DEFAULT_HANDLER_TIMEOUT_MS);
  // A mistyped key (trigger-none) would silently change nothing: refuse it.
  const unknown = Object.keys(handler).filter((key) => !HANDLER_KEYS.has(key));
  if (unknown.length > 0) {
    throw new HandlerFileError(
      file,
      `unknown key ${JSON.stringify(unknown[0])} in [handler] (known: ${
        [...HANDLER_KEYS].join(", ")
      })`,
    );
  }
  const warnings: string[] = [];
  return {
    file,
    className,
    events,
    enabled: field("enabled", parseBoolean, true),
    triggersNone: field("triggers-none", parseBoolean, false),
    timeoutMs,
    params: sections["params"] ?? {},
    sections,
    warnings,
  };
}
