/**
 * A complete docker-glue plugin: it logs every event it gets and, when the
 * INI file sets `output`, appends one JSON line per event to that file.
 *
 * ```ini
 * [handler]
 * class=/path/to/demo_handler.ts:DemoHandler
 * events=start,die,none
 *
 * [params]
 * custom_param=hello
 * output=/tmp/demo-events.jsonl
 * ```
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import {
  type AgentContext,
  BaseHandler,
} from "../../lib/agent/base_handler.ts";
import type { HandlerIni } from "../../lib/agent/handler_ini.ts";

const log = getLogger(["docker-glue", "demo"]);

/** Logs events and, optionally, records them in a file. */
export class DemoHandler extends BaseHandler {
  readonly #customParam: string | undefined;
  readonly #output: string | undefined;

  /** Reads the params; throwing here reports the INI file as broken. */
  constructor(agent: AgentContext, iniFile: string, ini: HandlerIni) {
    super(agent, iniFile, ini);
    this.#customParam = this.param("custom_param");
    this.#output = this.param("output");
    if (this.#output !== undefined && !this.#output.startsWith("/")) {
      throw new TypeError(`[params] output must be an absolute path`);
    }
  }

  /** Called for every event the INI file asked for. */
  async handle(event: string, containerId: string): Promise<void> {
    // The inventory already reflects this event: a started container is in
    // it, a stopped one is not.
    const container = this.agent.inventory.get(containerId);
    log.info("Demo got {event} for {name} (custom_param={param})", {
      event,
      name: container?.name ?? (containerId || "-"),
      param: this.#customParam ?? "",
    });
    if (this.#output !== undefined) {
      const line = JSON.stringify({
        event,
        containerId,
        name: container?.name ?? null,
        customParam: this.#customParam ?? null,
      });
      await Deno.writeTextFile(this.#output, `${line}\n`, { append: true });
    }
  }
}
