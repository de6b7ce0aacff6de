/**
 * A client for HAProxy's command sockets: the admin socket of the running
 * worker (`stats socket ... level admin`) and the master CLI (`-S`). One
 * connection per command, because HAProxy answers a non-interactive
 * connection once and closes it.
 *
 * @module
 */

import { errorMessage } from "../../util/error_message.ts";

/** HAProxy answered a runtime command with an error, or did not answer. */
export class RuntimeError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RuntimeError";
  }
}

/** How long one command may take before the socket counts as not answering. */
const COMMAND_TIMEOUT_MS = 3000;

/**
 * Sends one command and returns HAProxy's whole answer.
 *
 * @throws {RuntimeError} when the socket cannot be reached or does not
 * answer in time; a missing permission (`Deno.errors.NotCapable`) is thrown
 * as it is.
 */
export async function sendCommand(
  socket: string,
  command: string,
  timeoutMs = COMMAND_TIMEOUT_MS,
): Promise<string> {
  let conn: Deno.UnixConn;
  try {
    conn = await Deno.connect({ transport: "unix", path: socket });
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) throw error;
    throw new RuntimeError(
      `Cannot reach HAProxy socket ${socket}: ${errorMessage(error)}`,
      { cause: error },
    );
  }
  const timer = setTimeout(() => conn.close(), timeoutMs);
  try {
    await conn.write(new TextEncoder().encode(`${command}\n`));
    // The master CLI answers only once our side is closed for writing.
    await conn.closeWrite();
    const chunks: string[] = [];
    const decoder = new TextDecoder();
    const buffer = new Uint8Array(64 * 1024);
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) break;
      chunks.push(decoder.decode(buffer.subarray(0, n), { stream: true }));
    }
    return chunks.join("");
  } catch (error) {
    throw new RuntimeError(
      // The first line only: a payload can hold a private key.
      `HAProxy socket ${socket} did not answer "${command.split("\n")[0]}": ${
        errorMessage(error)
      }`,
      { cause: error },
    );
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // closed by the timer
    }
  }
}

/** One server as `show servers state` reports it. */
export interface ServerState {
  /** Backend name. */
  readonly backend: string;
  /** Server name. */
  readonly name: string;
  /** Address. */
  readonly address: string;
  /** Port. */
  readonly port: number;
  /** Weight in effect (`srv_uweight`). */
  readonly weight: number;
  /** Operational state: 0 stopped, 1 starting, 2 running, 3 stopping. */
  readonly opState: number;
  /** Administrative state bits; 0 means ready, 1 maintenance, 8 drain. */
  readonly adminState: number;
}

/**
 * Parses the answer of `show servers state` (the server-state-file format:
 * a version line, a `#` header naming the columns, one line per server).
 *
 * @throws {SyntaxError} when the answer has no header.
 */
export function parseServersState(text: string): ServerState[] {
  const lines = text.split("\n").map((line) => line.trim()).filter(Boolean);
  const header = lines.find((line) => line.startsWith("# "));
  if (header === undefined) {
    throw new SyntaxError(
      `Unexpected "show servers state" answer: ${
        JSON.stringify(text.slice(0, 120))
      }`,
    );
  }
  const columns = header.slice(2).split(/\s+/);
  const at = (name: string) => columns.indexOf(name);
  const index = {
    backend: at("be_name"),
    name: at("srv_name"),
    address: at("srv_addr"),
    port: at("srv_port"),
    weight: at("srv_uweight"),
    op: at("srv_op_state"),
    admin: at("srv_admin_state"),
  };
  const out: ServerState[] = [];
  for (const line of lines) {
    if (line.startsWith("#") || /^[0-9]+$/.test(line)) continue;
    const fields = line.split(/\s+/);
    const get = (i: number) => fields[i] ?? "";
    out.push({
      backend: get(index.backend),
      name: get(index.name),
      address: get(index.address),
      port: Number(get(index.port)),
      weight: Number(get(index.weight)),
      opState: Number(get(index.op)),
      adminState: Number(get(index.admin)),
    });
  }
  return out;
}

/** What the engine asks of HAProxy's runtime API: the admin socket, or a stand-in (the benchmarks' recorder). */
export interface RuntimeApi {
  /** Where it is, for messages. */
  readonly path: string;
  /** Runs a command; see {@link AdminSocket.run}. */
  run(command: string, ok?: RegExp, payload?: string): Promise<void>;
  /** Every server of `backend`, or of every backend. */
  servers(backend?: string): Promise<ServerState[]>;
  /** Entries of a map file. */
  mapEntries(file: string): Promise<[string, string][]>;
  /** The value of one key of a map file, or null when it has none. */
  mapEntry(file: string, key: string): Promise<string | null>;
  /** The certificate files of a crt-list. */
  crtListEntries(file: string): Promise<string[]>;
  /** The `show servers state` text. */
  serversStateText(): Promise<string>;
}

/** The admin socket of a running HAProxy. */
export class AdminSocket implements RuntimeApi {
  /** Path of the socket. */
  readonly path: string;

  /** Creates a client for the socket at `path`. */
  constructor(path: string) {
    this.path = path;
  }

  /**
   * Runs a command whose answer is empty or a known success message. A
   * payload (a certificate) follows the command line after `<<` and must
   * hold no empty line, which would end it.
   *
   * @throws {RuntimeError} with HAProxy's answer when it refused.
   */
  async run(
    command: string,
    ok: RegExp = /^$/,
    payload?: string,
  ): Promise<void> {
    const answer = (await sendCommand(
      this.path,
      payload === undefined ? command : `${command} <<\n${payload.trim()}\n`,
    )).trim();
    if (!ok.test(answer)) {
      throw new RuntimeError(
        `HAProxy refused "${command}": ${answer.split("\n").join(" | ")}`,
      );
    }
  }

  /** Every server of `backend`, or of every backend, as HAProxy has it now. */
  async servers(backend?: string): Promise<ServerState[]> {
    return parseServersState(
      await sendCommand(
        this.path,
        backend === undefined
          ? "show servers state"
          : `show servers state ${backend}`,
      ),
    );
  }

  /** Entries of a map file as HAProxy has them: key and value. */
  async mapEntries(file: string): Promise<[string, string][]> {
    const answer = await sendCommand(this.path, `show map ${file}`);
    const out: [string, string][] = [];
    for (const line of answer.split("\n")) {
      // "0x55d0c0a5b2c0 wp1.example.com hosts_1"
      const [, key, value] = line.trim().split(/\s+/);
      if (key !== undefined && value !== undefined) out.push([key, value]);
    }
    if (out.length === 0 && /Unknown map|No such/i.test(answer)) {
      throw new RuntimeError(`HAProxy has no map ${file}: ${answer.trim()}`);
    }
    return out;
  }

  /**
   * One key's value, by `get map` (a lookup, so a key of another match
   * type than an exact one could answer for it: only an answer naming this
   * very key counts).
   */
  async mapEntry(file: string, key: string): Promise<string | null> {
    const answer = await sendCommand(this.path, `get map ${file} ${key}`);
    // type=str, case=sensitive, found=yes, idx=tree, key="a", value="b", ...
    if (/found=no/.test(answer)) return null;
    const found = /key="([^"]*)", value="([^"]*)"/.exec(answer);
    if (found === null) {
      throw new RuntimeError(
        `HAProxy's answer for ${key} in map ${file}: ${answer.trim()}`,
      );
    }
    return found[1] === key ? found[2]! : null;
  }

  /** The certificate files of a crt-list, as HAProxy has them. */
  async crtListEntries(file: string): Promise<string[]> {
    const answer = await sendCommand(this.path, `show ssl crt-list ${file}`);
    if (/^Can't|not found|No such/im.test(answer)) {
      throw new RuntimeError(
        `HAProxy has no crt-list ${file}: ${answer.trim()}`,
      );
    }
    return answer.split("\n").map((line) => line.trim().split(/\s+/)[0] ?? "")
      .filter((word) => word !== "" && !word.startsWith("#"));
  }

  /** The raw `show servers state` text, in the server-state-file format. */
  serversStateText(): Promise<string> {
    return sendCommand(this.path, "show servers state");
  }
}
