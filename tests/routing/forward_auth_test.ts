import { assertEquals, assertThrows } from "../_fixtures/assert.ts";
import {
  DEFAULT_AUTH_HEADERS,
  parseForwardAuth,
  parseForwardAuthHeaders,
  parseForwardAuthTimeout,
  shownTarget,
} from "../../lib/routing/forward_auth.ts";
import {
  readHttpLabels,
  settingWords,
} from "../../lib/routing/route_settings.ts";

Deno.test("forward_auth: an address with port and path, IPv6 in brackets, or a container of the same engine", () => {
  assertEquals(
    parseForwardAuth("http://10.0.0.9:9091/api/verify?rd=https://x.example/"),
    {
      kind: "address",
      address: "10.0.0.9",
      port: 9091,
      path: "/api/verify?rd=https://x.example/",
    },
  );
  assertEquals(parseForwardAuth("http://10.0.0.9"), {
    kind: "address",
    address: "10.0.0.9",
    port: 80,
    path: "/",
  });
  assertEquals(parseForwardAuth("http://[FD00::9]:4180/oauth2/auth"), {
    kind: "address",
    address: "fd00::9",
    port: 4180,
    path: "/oauth2/auth",
  });
  const container = parseForwardAuth(
    "container:authelia:9091/api/authz/forward-auth",
  );
  assertEquals(container, {
    kind: "container",
    name: "authelia",
    port: 9091,
    path: "/api/authz/forward-auth",
  });
  assertEquals(
    shownTarget(container),
    "container:authelia:9091/api/authz/forward-auth",
  );
  assertEquals(
    shownTarget(parseForwardAuth("http://[fd00::9]:4180/a")),
    "http://[fd00::9]:4180/a",
  );
});

Deno.test("forward_auth: a host name, https, a bad port or path, and config syntax are refused with the value quoted", () => {
  assertThrows(
    () => parseForwardAuth("http://auth.example.com/verify"),
    TypeError,
    "HAProxy cannot look up a host name at request time",
  );
  assertThrows(
    () => parseForwardAuth("https://10.0.0.9/verify"),
    TypeError,
    'Invalid forward_auth "https://10.0.0.9/verify"',
  );
  assertThrows(
    () => parseForwardAuth("http://10.0.0.9:0/"),
    RangeError,
    "the port is 1 to 65535",
  );
  assertThrows(
    () => parseForwardAuth("container:auth:70000/"),
    RangeError,
    "the port is 1 to 65535",
  );
  assertThrows(
    () => parseForwardAuth("container:-auth:80/"),
    TypeError,
    "expected a container name",
  );
  for (const path of ["/a b", "/a\nb", '/a"', "/a\\b", "/a#b", "/a{b}"]) {
    assertThrows(
      () => parseForwardAuth(`http://10.0.0.9:80${path}`),
      TypeError,
      "the path takes",
    );
  }
});

Deno.test("forward_auth_headers: header names, without the client's credentials; forward_auth_timeout: 100 ms to 60 s", () => {
  assertEquals(
    parseForwardAuthHeaders(" Remote-User , X-Auth-Request-Email,remote-user"),
    ["Remote-User", "X-Auth-Request-Email"],
  );
  assertThrows(() => parseForwardAuthHeaders(""), RangeError, "1 to 16");
  assertThrows(
    () => parseForwardAuthHeaders("Remote-User,Cookie"),
    TypeError,
    "Cookie is the client's own credential",
  );
  assertThrows(
    () => parseForwardAuthHeaders("Host"),
    TypeError,
    "cannot be set by a label",
  );
  assertEquals(parseForwardAuthTimeout("500ms"), 500);
  assertEquals(parseForwardAuthTimeout("60s"), 60_000);
  for (const bad of ["50ms", "61s", "1m", "05s", "s"]) {
    assertThrows(
      () => parseForwardAuthTimeout(bad),
      RangeError,
      "from 100 ms to 60 s",
    );
  }
});

Deno.test("forward_auth labels: defaults, and the label at fault named", () => {
  const read = (labels: Record<string, string>) =>
    readHttpLabels(
      { glue_http_80_host: "app.example.com", ...labels },
      80,
      new Map(),
    ).settings;
  const plain = read({});
  assertEquals(plain.forwardAuth, null);
  assertEquals(plain.forwardAuthHeaders, DEFAULT_AUTH_HEADERS);
  assertEquals(plain.forwardAuthTimeout, 5000);
  const set = read({
    glue_http_80_forward_auth: "container:sso:9091/verify",
    glue_http_80_forward_auth_headers: "Remote-User",
    glue_http_80_forward_auth_timeout: "2s",
  });
  assertEquals(set.forwardAuth?.kind, "container");
  assertEquals(set.forwardAuthHeaders, ["Remote-User"]);
  assertEquals(set.forwardAuthTimeout, 2000);
  // What `routes` and the status page show.
  assertEquals(settingWords(set), [
    "forward_auth=container:sso:9091/verify",
    "forward_auth_headers=Remote-User",
    "forward_auth_timeout=2000ms",
  ]);
  try {
    read({ glue_http_80_forward_auth_timeout: "2m" });
    throw new Error("expected a LabelError");
  } catch (error) {
    assertEquals(
      (error as { label?: string }).label,
      "glue_http_80_forward_auth_timeout",
    );
  }
});
