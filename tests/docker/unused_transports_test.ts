import { createRequire } from "node:module";
import { assertEquals, assertThrows, assertTrue } from "../_fixtures/assert.ts";
import { connectDocker } from "../../lib/docker/client.ts";
import { LEFT_OUT_FILES } from "../../lib/docker/unused_transports.ts";

const require = createRequire(import.meta.url);

Deno.test("unused transports: dockerode loads without ssh2 and gRPC", () => {
  connectDocker("unix:///var/run/docker.sock");
  const loaded = Object.keys(require.cache);
  for (const [name, file] of Object.entries(LEFT_OUT_FILES)) {
    const folder = file.slice(
      0,
      file.lastIndexOf(`/${name}/`) + name.length + 2,
    );
    assertEquals(
      loaded.filter((path) => path.startsWith(folder)),
      [file],
      `${name}: only its placeholder is in the module cache`,
    );
  }
  assertTrue(loaded.some((path) => path.includes("/docker-modem/")));
});

Deno.test("unused transports: using one names what was left out", () => {
  const ssh2 = require.cache[LEFT_OUT_FILES["ssh2"]!]!.exports as {
    Client: () => unknown;
  };
  assertThrows(
    () => ssh2.Client(),
    Error,
    "Docker over SSH (ssh2.Client) is not part of docker-glue",
  );
  const grpc = require.cache[LEFT_OUT_FILES["@grpc/grpc-js"]!]!.exports as {
    credentials?: unknown;
    __esModule?: unknown;
  };
  assertEquals(grpc.__esModule, undefined);
});
