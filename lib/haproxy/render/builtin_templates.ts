/**
 * The default templates, imported as text so a compiled binary carries them
 * and renders with no template files on disk.
 *
 * @module
 */

import base from "../../../templates/haproxy_base.cfg.njk" with {
  type: "text",
};
import main from "../../../templates/haproxy.cfg.njk" with { type: "text" };
import lua from "../../../templates/glue.lua" with { type: "text" };

/** Built-in templates by file name. */
export const BUILTIN_TEMPLATES: Readonly<Record<string, string>> = {
  "haproxy_base.cfg.njk": base,
  "haproxy.cfg.njk": main,
};

/** The Lua actions the templates call (`lua-load`), written beside the configuration. */
export const GLUE_LUA: string = lua;

/** Name of the template rendered unless `--template-file` says otherwise. */
export const DEFAULT_TEMPLATE_FILE = "haproxy.cfg.njk";

/** Marker in a template search path that stands for the built-in templates. */
export const BUILTIN_DIR = "<built-in>";

/** Search path used when `--template-dir` is not given. */
export const DEFAULT_TEMPLATE_DIRS: readonly string[] = [
  "/etc/docker-glue/templates",
  BUILTIN_DIR,
];
