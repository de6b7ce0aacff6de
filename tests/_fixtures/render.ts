/**
 * What the template tests share: the listen settings, the built-in template
 * with them, and the original README's containers plus two more.
 *
 * @module
 */

import { container, ip, labels, readmeExamples } from "./containers.ts";
import { Renderer } from "../../lib/haproxy/render/render.ts";
import { DEFAULT_TEMPLATE_DIRS } from "../../lib/haproxy/render/builtin_templates.ts";

/** Where the test configurations listen. */
export const listen = {
  httpBind: ["127.0.0.1:18080"],
  statsBind: "127.0.0.1:18404",
  tcpBindAddress: "127.0.0.1",
};

/** The built-in template with {@link listen}. */
export function builtin(): Renderer {
  return new Renderer(
    { dirs: DEFAULT_TEMPLATE_DIRS, file: "haproxy.cfg.njk" },
    listen,
  );
}

/** The README's containers, a wildcard with a stripped prefix, and a default route. */
export const readme = [
  ...readmeExamples(),
  container(
    "api",
    ip("10.0.0.6"),
    labels({
      glue_http_80_host: "*.example.com",
      glue_http_80_prefix: "v1.0/api",
      glue_http_80_strip_prefix: "1",
    }),
  ),
  container("fallback", ip("10.0.0.5"), labels({ glue_http_80_host: "" })),
];
