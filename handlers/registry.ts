/**
 * The built-in handler classes, by modern and legacy name. Each is imported
 * with a literal specifier, so `deno compile` embeds it.
 *
 * @module
 */

import type { HandlerRegistry } from "../lib/agent/loader.ts";

const BUILTINS: Readonly<Record<string, () => Promise<unknown>>> = {
  script: () => import("./exec.ts").then((m) => m.ScriptHandler),
  haproxy: () => import("./haproxy.ts").then((m) => m.HAProxyHandler),
  "etcd-publisher": () => import("./publisher.ts").then((m) => m.Publisher),
};

/** Class names of the Python original, mapped to the modern names. */
export const LEGACY_NAMES: Readonly<Record<string, string>> = {
  "DockerGlue.handlers.exec.ScriptHandler": "script",
  "DockerGlue.handlers.lb.HAProxyHandler": "haproxy",
  "DockerGlue.handlers.publishers.distconfig.Publisher": "etcd-publisher",
};

/** The registry docker-glue and docker-balancer load handlers from. */
export const BUILTIN_REGISTRY: HandlerRegistry = {
  lookup(className: string) {
    const name = Object.hasOwn(LEGACY_NAMES, className)
      ? LEGACY_NAMES[className] as string
      : className;
    return Object.hasOwn(BUILTINS, name) ? BUILTINS[name] : undefined;
  },
  names() {
    return Object.keys(BUILTINS);
  },
};
