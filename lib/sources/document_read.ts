/**
 * Reading a container document back from etcd. Anything that can write under
 * the prefix can write a document, so each field is checked as strictly as a
 * label: addresses are IP literals or host names, ports are 1-65535, names
 * follow Docker's rules, and a document that fails names its field and is
 * not routed at all.
 *
 * @module
 */

import type {
  ContainerRecord,
  HealthState,
  PublishedPort,
} from "../docker/container.ts";
import { isHealthState } from "../docker/container.ts";
import { isIpLiteral, isPort } from "../util/net_address.ts";
import { DOCUMENT_VERSION } from "./document.ts";

/** A document that is not one: which field is wrong, and how. */
export class DocumentError extends SyntaxError {
  /** The field at fault, as a path (`publishedPorts[0].hostPort`), or "" for the whole text. */
  readonly field: string;

  constructor(field: string, message: string) {
    super(field === "" ? message : `${field}: ${message}`);
    this.name = "DocumentError";
    this.field = field;
  }
}

/** Larger than any document a publisher writes (a few KiB) by far. */
const MAX_TEXT = 256 * 1024;
/** Docker's rules for container and network names. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$/;
/** An image reference as Docker prints it (`nginx:1.25`, `reg:5000/a/b@sha256:…`). */
const IMAGE = /^[A-Za-z0-9][A-Za-z0-9._/:@+-]{0,511}$/;
/** RFC 3339 as Docker writes it. */
const TIME =
  /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})$/;
/** A container port as Docker keys it. */
const PORT_KEY = /^([0-9]{1,5})\/(tcp|udp|sctp)$/;
/**
 * Label names without control characters. Values are what Docker allows
 * (any text but NUL): the `glue_*` ones then go through the label parsers
 * like any container's, and the others never reach HAProxy, so a
 * multi-line description label costs no route.
 */
// deno-lint-ignore no-control-regex -- control characters are what we refuse
const LABEL_KEY = /^[^\x00-\x1f\x7f]{1,255}$/;
// deno-lint-ignore no-control-regex -- NUL is what we refuse
const LABEL_VALUE = /^[^\x00]{0,65536}$/;
const MAX_LABELS = 1000;

/** A value as a warning shows it: JSON, cut short, since a writer chose it. */
function shown(value: unknown): string {
  return String(JSON.stringify(value)).slice(0, 80);
}

function object(value: unknown, field: string): Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new DocumentError(field, "expected an object");
  }
  return value as Record<string, unknown>;
}

function text(value: unknown, field: string, rule: RegExp, what: string) {
  if (typeof value !== "string" || !rule.test(value)) {
    throw new DocumentError(
      field,
      `expected ${what}, got ${shown(value)}`,
    );
  }
  return value;
}

function bool(value: unknown, field: string): boolean {
  if (typeof value !== "boolean") {
    throw new DocumentError(field, "expected true or false");
  }
  return value;
}

// Only IP literals: a host name would reach haproxy.cfg as a server address,
// and HAProxy resolves it at every check and start, where a name that does
// not resolve rejects the whole file, every other host's routes with it.
function address(value: unknown, field: string): string {
  if (typeof value !== "string" || !isIpLiteral(value)) {
    throw new DocumentError(
      field,
      `expected an IP address, got ${shown(value)}`,
    );
  }
  return value;
}

function portKey(value: unknown, field: string): string {
  const port = text(value, field, PORT_KEY, 'a port such as "80/tcp"');
  if (!isPort(Number(PORT_KEY.exec(port)?.[1]))) {
    throw new DocumentError(field, `port out of range in ${port}`);
  }
  return port;
}

function list<T>(
  value: unknown,
  field: string,
  item: (entry: unknown, field: string) => T,
): T[] {
  if (!Array.isArray(value) || value.length > 65535) {
    throw new DocumentError(field, "expected a list");
  }
  return value.map((entry, i) => item(entry, `${field}[${i}]`));
}

function labelsOf(value: unknown): Record<string, string> {
  const entries = Object.entries(object(value, "labels"));
  if (entries.length > MAX_LABELS) {
    throw new DocumentError("labels", `more than ${MAX_LABELS} labels`);
  }
  const out: Record<string, string> = {};
  for (const [key, val] of entries) {
    const field = `labels.${key.slice(0, 80)}`;
    if (!LABEL_KEY.test(key)) {
      throw new DocumentError(field, "label names have no control characters");
    }
    out[key] = text(val, field, LABEL_VALUE, "text without NUL");
  }
  return out;
}

function networksOf(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, ip] of Object.entries(object(value, "networks"))) {
    const field = `networks.${name.slice(0, 80)}`;
    if (!NAME.test(name)) {
      throw new DocumentError(field, "not a Docker network name");
    }
    out[name] = address(ip, field);
  }
  return out;
}

function publishedOf(entry: unknown, field: string): PublishedPort {
  const p = object(entry, field);
  if (!isPort(p.hostPort)) {
    throw new DocumentError(
      `${field}.hostPort`,
      `expected a port 1-65535, got ${shown(p.hostPort)}`,
    );
  }
  return {
    port: portKey(p.port, `${field}.port`),
    hostIp: address(p.hostIp, `${field}.hostIp`),
    hostPort: p.hostPort,
  };
}

/**
 * Reads a published document back into a container record whose `host`
 * says where it runs. The host and container ids come from the key; the
 * document must agree with them.
 *
 * @throws {DocumentError} naming the first field that is missing or wrong.
 */
export function parseContainerDocument(
  hostId: string,
  id: string,
  input: string,
): ContainerRecord {
  if (input.length > MAX_TEXT) {
    throw new DocumentError("", `larger than ${MAX_TEXT / 1024} KiB`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(input);
  } catch {
    throw new DocumentError("", "not JSON");
  }
  const doc = object(parsed, "");
  if (doc.version !== DOCUMENT_VERSION) {
    throw new DocumentError(
      "version",
      `unsupported document version ${shown(doc.version)}`,
    );
  }
  if (doc.hostId !== hostId) {
    throw new DocumentError("hostId", "does not match the key's host id");
  }
  if (doc.id !== id) {
    throw new DocumentError("id", "does not match the key's container id");
  }
  const advertiseAddress = address(doc.advertiseAddress, "advertiseAddress");
  const state = object(doc.state, "state");
  const health = state.health;
  if (typeof health !== "string" || !isHealthOrNone(health)) {
    throw new DocumentError(
      "state.health",
      "expected none, starting, healthy or unhealthy",
    );
  }
  const restarts = state.restartCount;
  if (
    typeof restarts !== "number" || !Number.isSafeInteger(restarts) ||
    restarts < 0
  ) {
    throw new DocumentError("state.restartCount", "expected a whole number");
  }
  const ipAddress = doc.ipAddress === ""
    ? ""
    : address(doc.ipAddress, "ipAddress");
  return {
    id,
    name: text(doc.name, "name", NAME, "a container name"),
    created: text(doc.created, "created", TIME, "an RFC 3339 time"),
    image: text(doc.image, "image", IMAGE, "an image reference"),
    labels: labelsOf(doc.labels),
    env: {},
    exposedPorts: list(doc.exposedPorts, "exposedPorts", portKey),
    publishedPorts: list(doc.publishedPorts, "publishedPorts", publishedOf),
    ipAddress,
    networks: networksOf(doc.networks),
    running: bool(state.running, "state.running"),
    paused: bool(state.paused, "state.paused"),
    health,
    restartCount: restarts,
    startedAt: state.startedAt === ""
      ? ""
      : text(state.startedAt, "state.startedAt", TIME, "an RFC 3339 time"),
    host: { id: hostId, advertiseAddress },
  };
}

function isHealthOrNone(value: string): value is HealthState {
  return value === "none" || isHealthState(value);
}
