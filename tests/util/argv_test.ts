import { assertEquals, assertThrows } from "../_fixtures/assert.ts";
import { splitArgs } from "../../lib/util/argv.ts";

Deno.test("argv: splits on whitespace", () => {
  assertEquals(splitArgs("  systemctl   reload\thaproxy "), [
    "systemctl",
    "reload",
    "haproxy",
  ]);
  assertEquals(splitArgs(""), []);
});

Deno.test("argv: quotes and escapes group words; nothing is expanded", () => {
  assertEquals(splitArgs(`kill -USR2 '1 2' "a \\"b\\"" c\\ d`), [
    "kill",
    "-USR2",
    "1 2",
    'a "b"',
    "c d",
  ]);
  assertEquals(splitArgs("echo $HOME;rm -rf / `x` $(y)"), [
    "echo",
    "$HOME;rm",
    "-rf",
    "/",
    "`x`",
    "$(y)",
  ]);
  assertEquals(splitArgs("a '' b"), ["a", "", "b"]);
});

Deno.test("argv: unterminated quotes and a trailing backslash are errors", () => {
  assertThrows(() => splitArgs("a 'b"), SyntaxError, "unterminated");
  assertThrows(() => splitArgs('a "b'), SyntaxError, "unterminated");
  assertThrows(() => splitArgs("a \\"), SyntaxError, "trailing backslash");
});
