/**
 * The base class of every handler, built-in or a user's plugin. It mirrors the
 * original's Python API: constructed with (agent, INI file path, parsed INI),
 * it reads its `[params]` and implements `handle(event, containerId)`.
 *
 * @module
 */

import type { DockerClient } from "../docker/client.ts";
import type { Inventory } from "../docker/inventory.ts";
import type { HandlerIni } from "./handler_ini.ts";
import type { Telemetry } from "../metrics/telemetry.ts";

/** What the agent offers its handlers. */
export interface AgentContext {
  /** Docker client shared by the agent and its handlers. */
  readonly docker: DockerClient;
  /** Running containers, current as of the event being handled or later. */
  readonly inventory: Inventory;
  /** Directories searched for handler scripts, in order. */
  readonly scriptPaths: readonly string[];
  /** The Docker URL, for messages. */
  readonly dockerUrl: string;
  /** The user the agent runs as: as root, what others can change is refused. */
  readonly uid: number;
  /**
   * True while the agent runs once (`-1`): nothing runs after the event, so
   * a handler finishes its work within it instead of in the background.
   */
  readonly oneShot: boolean;
  /** Where handlers report for metrics. */
  readonly telemetry: Telemetry;
}

/**
 * A handler that cannot work in this set-up (its script is missing, say). The
 * agent logs a warning naming the file and runs without it.
 */
export class HandlerDisabledError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "HandlerDisabledError";
  }
}

/** Base class of handlers. */
export abstract class BaseHandler {
  /** The agent that runs this handler. */
  readonly agent: AgentContext;
  /** Path of the INI file that configured this handler. */
  readonly iniFile: string;
  /** The parsed INI file. */
  readonly ini: HandlerIni;
  /** The `[params]` section. */
  readonly params: Readonly<Record<string, string>>;

  /** Keeps the agent, the INI path and the parsed INI. */
  constructor(agent: AgentContext, iniFile: string, ini: HandlerIni) {
    this.agent = agent;
    this.iniFile = iniFile;
    this.ini = ini;
    this.params = ini.params;
  }

  /**
   * A `[params]` value, or `fallback` when it is absent. Both `some-name`
   * and `some_name` spellings are accepted.
   */
  param(name: string, fallback: string): string;
  /** A `[params]` value, or undefined when it is absent. */
  param(name: string): string | undefined;
  param(name: string, fallback?: string): string | undefined {
    const dashed = name.replaceAll("_", "-");
    const underscored = name.replaceAll("-", "_");
    return this.params[name] ?? this.params[underscored] ??
      this.params[dashed] ?? fallback;
  }

  /**
   * Asynchronous set-up after construction (finding a script, compiling a
   * template). Throw {@link HandlerDisabledError} to be switched off with a
   * warning; anything else is an error.
   */
  init(): Promise<void> {
    return Promise.resolve();
  }

  /** Handles one event: `none` or a Docker action, for a container id ("" for `none`). */
  abstract handle(event: string, containerId: string): Promise<void>;

  /** Finishes work in progress before the process exits. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}
