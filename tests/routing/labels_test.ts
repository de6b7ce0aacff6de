import { assertEquals, assertThrows } from "../_fixtures/assert.ts";
import {
  escapeRegex,
  parseHost,
  parseHostList,
  parsePort,
  parsePortList,
  parsePrefix,
  parseSwitch,
  parseWeight,
} from "../../lib/routing/labels.ts";

Deno.test("ports: 1-65535 in plain decimal", () => {
  assertEquals(parsePort("80"), 80);
  assertEquals(parsePort("65535"), 65535);
  for (
    const bad of ["0", "65536", "080", "", " 80", "80a", "-1", "1e3", "8O"]
  ) {
    assertThrows(() => parsePort(bad), RangeError, "Invalid port");
  }
});

Deno.test("port lists trim spaces and drop duplicates", () => {
  assertEquals(parsePortList("80, 8080,80"), [80, 8080]);
  assertThrows(() => parsePortList("80,,81"), RangeError);
  assertThrows(() => parsePortList("80,99999"), RangeError, '"99999"');
});

Deno.test("hosts: RFC 1123 names, lower-cased, optional *. prefix", () => {
  assertEquals(parseHost("WP1.Example.COM"), "wp1.example.com");
  assertEquals(parseHost("*.example.com"), "*.example.com");
  assertEquals(parseHost("example.com."), "example.com");
  assertEquals(parseHost("localhost"), "localhost");
  assertEquals(parseHost("a-b.c0"), "a-b.c0");
  const bad = [
    "",
    "*",
    "*.",
    "a..b",
    "-a.com",
    "a-.com",
    "a_b.com",
    "a.*.com",
    "**.com",
    "a b.com",
    "a.com:80",
    "a.com/x",
    `${"a".repeat(64)}.com`,
    `${"a.".repeat(127)}a`,
    "café.com",
    "a.com\nserver x 1.2.3.4:80",
    "a.com#x",
    "'a.com'",
    // Addresses are no host names (issue 31).
    "1.2.3.4",
    "10.0.0.1.",
    "a.123",
  ];
  for (const value of bad) {
    assertThrows(() => parseHost(value), TypeError, "Invalid host");
  }
});

Deno.test("host lists: comma separated; empty means the default backend", () => {
  assertEquals(parseHostList("a.com, B.com,a.com"), ["a.com", "b.com"]);
  assertEquals(parseHostList(""), [""]);
  assertEquals(parseHostList("  "), [""]);
  assertThrows(() => parseHostList("a.com,,b.com"), TypeError);
});

Deno.test("prefixes: slashes optional, URL path characters only", () => {
  assertEquals(parsePrefix("dashboard/horizon"), "/dashboard/horizon");
  assertEquals(parsePrefix("/api/"), "/api");
  assertEquals(parsePrefix(""), "");
  assertEquals(parsePrefix("/"), "");
  assertEquals(parsePrefix("caf%C3%A9"), "/caf%C3%A9");
  assertEquals(
    parsePrefix("a-b_c.d~e!f*g+h,i;j=k:l@m&n"),
    "/a-b_c.d~e!f*g+h,i;j=k:l@m&n",
  );
  const bad = [
    "a b",
    "a\nb",
    "a\rb",
    "a#b",
    "a'b",
    'a"b',
    "a\\b",
    "a$b",
    "a(b)",
    "a{b}",
    "a%zz",
    "a%4",
    "a//b",
    "a?b",
    "ü",
    "a\u0000b",
    "a".repeat(1025),
  ];
  for (const value of bad) {
    assertThrows(() => parsePrefix(value), TypeError, "Invalid prefix");
  }
});

Deno.test("weights: integers 0-256", () => {
  assertEquals(parseWeight("0"), 0);
  assertEquals(parseWeight("256"), 256);
  assertEquals(parseWeight("3"), 3);
  for (const bad of ["257", "-1", "1.5", "", "abc", "1000", " 3"]) {
    assertThrows(() => parseWeight(bad), RangeError, "Invalid weight");
  }
});

Deno.test("switches: 0 or 1", () => {
  assertEquals(parseSwitch("1"), true);
  assertEquals(parseSwitch("0"), false);
  for (const bad of ["true", "yes", "", "2", " 1"]) {
    assertThrows(() => parseSwitch(bad), TypeError, "Invalid switch");
  }
});

Deno.test("regex escaping covers every metacharacter a prefix may hold", () => {
  assertEquals(escapeRegex("/a.b*c+d"), "/a\\.b\\*c\\+d");
  const prefix = parsePrefix("v1.2/x*+y");
  assertEquals(new RegExp(`^${escapeRegex(prefix)}$`).test(prefix), true);
  assertEquals(
    new RegExp(`^${escapeRegex(prefix)}$`).test("/v1x2/x*+y"),
    false,
  );
});
