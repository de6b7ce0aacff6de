/**
 * Loads handler INI files and the classes they name, by dynamic import.
 *
 * @module
 */

import { dirname } from "../util/files.ts";
import { checkTrusted, UntrustedFileError } from "./file_trust.ts";
import {
  type AgentContext,
  type BaseHandler,
  HandlerDisabledError,
} from "./base_handler.ts";
import {
  HandlerFileError,
  type HandlerIni,
  MAX_HANDLER_FILE_BYTES,
  parseHandlerIni,
} from "./handler_ini.ts";
import { errorMessage } from "../util/error_message.ts";

/** Built-in handler classes by name; each entry imports its module when asked. */
export interface HandlerRegistry {
  /** The importer for a built-in or legacy class name, if it is one. */
  lookup(className: string): (() => Promise<unknown>) | undefined;
  /** Modern names of the built-in handlers, for messages. */
  names(): readonly string[];
}

/** A handler ready to be given to the agent. */
export interface LoadedHandler {
  /** Its INI file. */
  readonly ini: HandlerIni;
  /** The handler instance. */
  readonly handler: BaseHandler;
}

/** Something wrong with one handler file. */
export interface HandlerProblem {
  /** `error`: the file is broken; `warning`: it loads without that part, or is switched off. */
  readonly severity: "error" | "warning";
  /** The message, starting with the file name. */
  readonly message: string;
}

/** What {@link loadHandlers} found. */
export interface LoadResult {
  /** Handlers that loaded and are enabled. */
  readonly loaded: LoadedHandler[];
  /** Files that are off by `enabled=0`. */
  readonly disabled: string[];
  /** Problems, in file order. */
  readonly problems: HandlerProblem[];
}

function firstLine(error: unknown): string {
  const text = errorMessage(error);
  return text.split("\n").map((l) => l.trim()).find((l) => l !== "") ?? text;
}

/** Turns a module reference from an INI file into an import specifier. */
export function moduleSpecifier(reference: string, iniFile: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(reference)) return reference;
  const base = reference.startsWith("/")
    ? reference
    : `${dirname(iniFile)}/${reference}`;
  const absolute = base.startsWith("/") ? base : `${Deno.cwd()}/${base}`;
  return new URL(`file://${absolute}`).href;
}

async function resolveClass(
  ini: HandlerIni,
  registry: HandlerRegistry,
  uid: number,
): Promise<unknown> {
  const { className, file } = ini;
  const builtin = registry.lookup(className);
  if (builtin !== undefined) return await builtin();
  // A plugin is `module:Export`, split at the last colon so URLs with a
  // port still work. (`#` would read better but starts an INI comment.)
  const colon = className.lastIndexOf(":");
  const exportName = colon < 0 ? "" : className.slice(colon + 1);
  if (colon < 0 || !/^[A-Za-z_$][\w$]*$/.test(exportName)) {
    throw new HandlerFileError(
      file,
      `unknown handler class ${JSON.stringify(className)}: not a built-in (${
        registry.names().join(", ")
      }) and not a module reference such as ./my_handler.ts:MyHandler`,
    );
  }
  const reference = className.slice(0, colon);
  const specifier = moduleSpecifier(reference, file);
  let mod: Record<string, unknown>;
  try {
    if (specifier.startsWith("file:")) {
      await checkTrusted(new URL(specifier).pathname, uid, "handler module");
    }
    mod = await import(specifier);
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) throw error;
    throw new HandlerFileError(
      file,
      `cannot import handler module ${JSON.stringify(reference)}: ${
        firstLine(error)
      }`,
    );
  }
  if (!(exportName in mod)) {
    throw new HandlerFileError(
      file,
      `handler module ${JSON.stringify(reference)} has no export ${
        JSON.stringify(exportName)
      }`,
    );
  }
  return mod[exportName];
}

type HandlerClass = new (
  agent: AgentContext,
  iniFile: string,
  ini: HandlerIni,
) => BaseHandler;

function isHandlerClass(value: unknown): value is HandlerClass {
  return typeof value === "function" &&
    typeof (value as { prototype?: { handle?: unknown } }).prototype?.handle ===
      "function";
}

/**
 * Loads one handler file: parses it, imports its class, constructs and
 * initializes the handler. Returns null for `enabled=0`.
 *
 * @throws {HandlerFileError} naming the file, for any problem.
 * @throws {HandlerDisabledError} (re-thrown with the file name) when the
 * handler switched itself off.
 */
export async function loadHandlerFile(
  file: string,
  agent: AgentContext,
  registry: HandlerRegistry,
): Promise<LoadedHandler | null> {
  let text: string;
  try {
    await checkTrusted(file, agent.uid, "handler file");
    const info = await Deno.stat(file);
    if (info.size > MAX_HANDLER_FILE_BYTES) {
      throw new HandlerFileError(
        file,
        `too large (${info.size} bytes; handler files are limited to ${MAX_HANDLER_FILE_BYTES} bytes)`,
      );
    }
    text = await Deno.readTextFile(file);
  } catch (error) {
    if (error instanceof HandlerFileError) throw error;
    if (error instanceof Deno.errors.NotCapable) throw error;
    if (error instanceof UntrustedFileError) {
      throw new HandlerFileError(file, error.message);
    }
    throw new HandlerFileError(file, `cannot read: ${firstLine(error)}`);
  }
  const ini = parseHandlerIni(file, text);
  if (!ini.enabled) return null;
  const cls = await resolveClass(ini, registry, agent.uid);
  if (!isHandlerClass(cls)) {
    throw new HandlerFileError(
      file,
      `${ini.className} is not a handler class (it needs a handle(event, containerId) method)`,
    );
  }
  let handler: BaseHandler;
  try {
    handler = new cls(agent, file, ini);
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) throw error;
    throw new HandlerFileError(file, `${ini.className}: ${firstLine(error)}`);
  }
  try {
    await handler.init();
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) throw error;
    if (error instanceof HandlerDisabledError) {
      throw new HandlerDisabledError(`${file}: ${error.message}`);
    }
    throw new HandlerFileError(file, `${ini.className}: ${firstLine(error)}`);
  }
  return { ini, handler };
}

/**
 * Loads every file. A file that fails is reported and left out; the others
 * still load. Only a missing permission stops the whole load.
 *
 * @throws {Deno.errors.NotCapable} when the program lacks a permission.
 */
export async function loadHandlers(
  files: readonly string[],
  agent: AgentContext,
  registry: HandlerRegistry,
): Promise<LoadResult> {
  const loaded: LoadedHandler[] = [];
  const disabled: string[] = [];
  const problems: HandlerProblem[] = [];
  for (const file of files) {
    try {
      const result = await loadHandlerFile(file, agent, registry);
      if (result === null) {
        disabled.push(file);
        continue;
      }
      for (const warning of result.ini.warnings) {
        problems.push({ severity: "warning", message: `${file}: ${warning}` });
      }
      loaded.push(result);
    } catch (error) {
      if (error instanceof HandlerDisabledError) {
        problems.push({ severity: "warning", message: error.message });
      } else if (error instanceof HandlerFileError) {
        problems.push({ severity: "error", message: error.message });
      } else if (error instanceof Deno.errors.NotCapable) {
        throw error;
      } else {
        problems.push({
          severity: "error",
          message: `${file}: ${firstLine(error)}`,
        });
      }
    }
  }
  return { loaded, disabled, problems };
}
