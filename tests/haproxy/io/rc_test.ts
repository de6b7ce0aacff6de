import {
  assertEquals,
  assertRejects,
  assertThrows,
} from "../../_fixtures/assert.ts";
import { parseRc, readRc } from "../../../lib/haproxy/io/rc.ts";

Deno.test("rc: Debian's EXTRAOPTS and Red Hat's OPTIONS become arguments", () => {
  assertEquals(
    parseRc('# comment\n#EXTRAOPTS="-de -m 16"\nEXTRAOPTS="-de -m 16"\n'),
    [
      "-de",
      "-m",
      "16",
    ],
  );
  assertEquals(parseRc("OPTIONS='-L node1'\nCONFIG=/x\n"), ["-L", "node1"]);
  assertEquals(parseRc('EXTRAOPTS="-m 16"\nOPTIONS=-q'), ["-m", "16", "-q"]);
});

Deno.test("rc: nothing is expanded as a shell would", () => {
  assertEquals(parseRc('OPTIONS="$(rm -rf /) ${HOME}"'), [
    "$(rm",
    "-rf",
    "/)",
    "${HOME}",
  ]);
});

Deno.test("rc: the shipped Debian file has no active options", () => {
  assertEquals(
    parseRc('#CONFIG="/etc/haproxy/haproxy.cfg"\n#EXTRAOPTS="-de -m 16"\n'),
    [],
  );
});

Deno.test("rc: an unterminated quote is an error", () => {
  assertThrows(() => parseRc('OPTIONS="-de'), SyntaxError, "unterminated");
});

Deno.test("rc: a named rc file must exist; the error names it", async () => {
  await assertRejects(
    () => readRc("/nonexistent/haproxy"),
    Error,
    "/nonexistent/haproxy",
  );
});
