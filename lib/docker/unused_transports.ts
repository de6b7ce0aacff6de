/**
 * Keeps dockerode from loading the two transports docker-glue never uses:
 * SSH (docker-modem loads `ssh2` at import) and BuildKit sessions (dockerode
 * loads `@grpc/grpc-js` and `@grpc/proto-loader` at import). Loading them
 * costs about 15 MB of resident memory in every process, a sixth of
 * docker-balancer's at 400 containers, for code that runs only for
 * `ssh://` engines and `buildImage` with BuildKit, neither of which
 * docker-glue offers.
 *
 * It puts a placeholder for each in Node's module cache (`require.cache`,
 * where Node allows adding entries) before dockerode is evaluated, so this
 * module must be imported before `dockerode`. A handler plugin that calls
 * into one of them gets an error naming what was left out.
 *
 * @module
 */

import { createRequire } from "node:module";

/** Why a placeholder refuses, for the error a plugin would see. */
const LEFT_OUT: Record<string, string> = {
  "ssh2": "Docker over SSH",
  "@grpc/grpc-js": "BuildKit sessions",
  "@grpc/proto-loader": "BuildKit sessions",
};

function placeholder(name: string): object {
  return new Proxy({}, {
    get(_target, property) {
      // Interop checks (`__esModule`, `then`, symbols) must see nothing.
      if (typeof property !== "string" || property === "__esModule") {
        return undefined;
      }
      return () => {
        throw new Error(
          `${LEFT_OUT[name]} (${name}.${property}) is not part of docker-glue`,
        );
      };
    },
  });
}

const require = createRequire(import.meta.url);
const dockerode = require.resolve("dockerode");
const fromDockerode = createRequire(dockerode);
const modules: Record<string, string> = {
  "ssh2": createRequire(fromDockerode.resolve("docker-modem")).resolve("ssh2"),
  "@grpc/grpc-js": fromDockerode.resolve("@grpc/grpc-js"),
  "@grpc/proto-loader": fromDockerode.resolve("@grpc/proto-loader"),
};
for (const [name, file] of Object.entries(modules)) {
  require.cache[file] ??= {
    id: file,
    filename: file,
    loaded: true,
    exports: placeholder(name),
    children: [],
    paths: [],
  } as unknown as NodeJS.Module;
}

/** The files that hold placeholders, by package name (for tests). */
export const LEFT_OUT_FILES: Readonly<Record<string, string>> = modules;
