import {
  assertEquals,
  assertIncludes,
  assertThrows,
} from "../_fixtures/assert.ts";
import {
  cleartextWarning,
  engineAddresses,
  EngineUrlError,
  parseEngineUrl,
  splitUrls,
} from "../../lib/docker/engine_url.ts";

const noEnv = () => undefined;

Deno.test("engine url: a socket, and TCP with TLS from a cert path, named by its host", () => {
  assertEquals(parseEngineUrl("unix:///run/docker.sock"), {
    url: "unix:///run/docker.sock",
    socketPath: "/run/docker.sock",
    name: "local",
  });
  assertEquals(
    parseEngineUrl("tcp://10.0.0.2:2376?certpath=/etc/docker-glue/h2"),
    {
      url: "tcp://10.0.0.2:2376",
      host: "10.0.0.2",
      port: 2376,
      tls: {
        caFile: "/etc/docker-glue/h2/ca.pem",
        certFile: "/etc/docker-glue/h2/cert.pem",
        keyFile: "/etc/docker-glue/h2/key.pem",
      },
      name: "10.0.0.2",
      address: "10.0.0.2",
    },
  );
});

Deno.test("engine url: TLS files one by one, a name and the address of a host given by name", () => {
  const engine = parseEngineUrl(
    "tcp://docker2.lan:2376?tlscacert=/c/ca&tlscert=/c/cert&tlskey=/c/key&name=web2&address=192.0.2.7",
  );
  assertEquals(engine.tls, {
    caFile: "/c/ca",
    certFile: "/c/cert",
    keyFile: "/c/key",
  });
  assertEquals([engine.name, engine.address, engine.host], [
    "web2",
    "192.0.2.7",
    "docker2.lan",
  ]);
  assertEquals(parseEngineUrl("tcp://[fd00::2]:2375").address, "fd00::2");
});

Deno.test("engine url: each mistake is refused with the URL and the reason", () => {
  for (
    const [url, reason] of [
      [
        "tcp://10.0.0.2",
        "expected unix:///path/to/docker.sock or tcp://host:port",
      ],
      ["tcp://10.0.0.2:99999", "expected unix:///path"],
      ["unix://docker.sock", "expected unix:///absolute/path"],
      ["ssh://h:22", "expected unix:///path"],
      ["tcp://10.0.0.2:2376?tlscert=/a", "give certpath=<dir>, or all of"],
      ["tcp://10.0.0.2:2376?certpath=relative", "is not an absolute path"],
      ["tcp://10.0.0.2:2376?tlsverify=1", "tlsverify needs certpath"],
      ["tcp://10.0.0.2:2376?colour=blue", "unknown option colour"],
      ["tcp://10.0.0.2:2376?name=a%20b", "name must be letters"],
      ["tcp://10.0.0.2:2376?address=host2", "address must be an IP address"],
      ["unix:///s?certpath=/c", "TLS options need a tcp:// URL"],
    ]
  ) {
    assertThrows(() => parseEngineUrl(url as string), EngineUrlError, reason);
    assertThrows(
      () => parseEngineUrl(url as string),
      EngineUrlError,
      JSON.stringify(url),
    );
  }
});

Deno.test("engine addresses: this host's engine first, from DOCKER_HOST and DOCKER_CERT_PATH when no flag says", () => {
  assertEquals(engineAddresses([], noEnv).map((e) => e.url), [
    "unix:///var/run/docker.sock",
  ]);
  const env: Record<string, string> = {
    DOCKER_HOST: "tcp://127.0.0.1:2376",
    DOCKER_TLS_VERIFY: "1",
    DOCKER_CERT_PATH: "/root/.docker",
  };
  const [engine] = engineAddresses([], (name) => env[name]);
  assertEquals(engine?.tls?.keyFile, "/root/.docker/key.pem");
  // A flag wins over the environment.
  assertEquals(
    engineAddresses(["unix:///run/docker.sock"], (name) => env[name])[0]?.tls,
    undefined,
  );
});

Deno.test("engine addresses: DOCKER_TLS_VERIFY without a cert path reads ~/.docker as the docker CLI does; a DOCKER_HOST with options is refused", () => {
  const env: Record<string, string> = {
    DOCKER_HOST: "tcp://127.0.0.1:2376",
    DOCKER_TLS_VERIFY: "1",
    HOME: "/home/ops",
  };
  const at = (vars: Record<string, string>) =>
    engineAddresses([], (name) => vars[name])[0];
  assertEquals(at(env)?.tls, {
    caFile: "/home/ops/.docker/ca.pem",
    certFile: "/home/ops/.docker/cert.pem",
    keyFile: "/home/ops/.docker/key.pem",
  });
  assertEquals(
    at({ ...env, DOCKER_CONFIG: "/etc/docker-client" })?.tls?.caFile,
    "/etc/docker-client/ca.pem",
  );
  assertEquals(at({ ...env, DOCKER_TLS_VERIFY: "0" })?.tls, undefined);
  assertThrows(
    () => at({ DOCKER_HOST: "tcp://127.0.0.1:2376", DOCKER_TLS_VERIFY: "1" }),
    EngineUrlError,
    "DOCKER_TLS_VERIFY is set",
  );
  for (
    const host of [
      "tcp://127.0.0.1:2376?tlsverify=1",
      "tcp://127.0.0.1:2376?",
    ]
  ) {
    assertThrows(
      () => at({ ...env, DOCKER_HOST: host }),
      EngineUrlError,
      "without options",
    );
  }
});

Deno.test("engine addresses: an engine over TCP without TLS is taken, with a warning that names it", () => {
  const [local, clear, secure] = engineAddresses([
    "unix:///var/run/docker.sock",
    "tcp://10.0.0.2:2375",
    "tcp://10.0.0.3:2376?certpath=/etc/docker-glue/h3",
  ], noEnv);
  assertEquals(cleartextWarning(local!), null);
  assertEquals(cleartextWarning(secure!), null);
  assertIncludes(
    cleartextWarning(clear!) ?? "",
    "Docker engine 10.0.0.2 at tcp://10.0.0.2:2375 is reached without TLS",
  );
});

Deno.test("engine addresses: other engines need distinct names and an address for their published ports", () => {
  const local = "unix:///var/run/docker.sock";
  assertEquals(
    engineAddresses(
      [local, "tcp://10.0.0.2:2376", "tcp://10.0.0.3:2376"],
      noEnv,
    )
      .map((e) => e.name),
    ["local", "10.0.0.2", "10.0.0.3"],
  );
  assertThrows(
    () =>
      engineAddresses(
        [local, "tcp://10.0.0.2:2376", "tcp://10.0.0.2:2377"],
        noEnv,
      ),
    EngineUrlError,
    "a second engine named 10.0.0.2; tell them apart with ?name=",
  );
  assertThrows(
    () => engineAddresses([local, "tcp://docker2.lan:2376"], noEnv),
    EngineUrlError,
    "give it with ?address=",
  );
});

Deno.test("engine urls: repeated flags and comma lists, blanks dropped", () => {
  assertEquals(splitUrls(["unix:///a, tcp://b:1", "tcp://c:2,"]), [
    "unix:///a",
    "tcp://b:1",
    "tcp://c:2",
  ]);
  assertEquals(splitUrls(undefined), []);
});
