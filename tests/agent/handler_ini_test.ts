import { assertEquals, assertThrows, assertTrue } from "../_fixtures/assert.ts";
import {
  HandlerFileError,
  parseBoolean,
  parseHandlerIni,
} from "../../lib/agent/handler_ini.ts";

const FILE = "/etc/docker-glue.d/x.ini";

Deno.test("ini: the original's example parses with its defaults", () => {
  const ini = parseHandlerIni(
    FILE,
    "[handler]\nclass=DockerGlue.handlers.exec.ScriptHandler\nevents=all\n\n[params]\nscript=test-handler.sh\ndemo-option=some value\n",
  );
  assertEquals(ini.className, "DockerGlue.handlers.exec.ScriptHandler");
  assertEquals([ini.enabled, ini.triggersNone], [true, false]);
  assertEquals(ini.params, {
    script: "test-handler.sh",
    "demo-option": "some value",
  });
  assertEquals(ini.warnings, []);
});

Deno.test("ini: booleans as configparser reads them", () => {
  for (const yes of ["1", "yes", "True", "on"]) {
    assertEquals(parseBoolean(yes), true);
  }
  for (const no of ["0", "no", "FALSE", "off"]) {
    assertEquals(parseBoolean(no), false);
  }
  assertThrows(() => parseBoolean("maybe"), TypeError, '"maybe"');
});

Deno.test("ini: enabled, triggers-none and timeout are read", () => {
  const ini = parseHandlerIni(
    FILE,
    "[handler]\nclass=script\nevents=start\nenabled=0\ntriggers-none=yes\ntimeout=2.5\n",
  );
  assertEquals([ini.enabled, ini.triggersNone, ini.timeoutMs], [
    false,
    true,
    2500,
  ]);
});

Deno.test("ini: unknown [handler] keys are errors (a typo would change nothing silently)", () => {
  assertThrows(
    () =>
      parseHandlerIni(
        FILE,
        "[handler]\nclass=script\nevents=start\ntrigger-none=1\n",
      ),
    HandlerFileError,
    '"trigger-none"',
  );
  // Unknown params are the handler's business.
  const ini = parseHandlerIni(
    FILE,
    "[handler]\nclass=script\nevents=start\n[params]\nanything=1\n",
  );
  assertEquals(ini.params, { anything: "1" });
});

Deno.test("ini: broken files are one error that starts with the file name", () => {
  const broken: [string, string][] = [
    ["", "no [handler] section"],
    ["[params]\nscript=x\n", "no [handler] section"],
    ["[handler]\nevents=all\n", "no class="],
    ["[handler]\nclass=script\n", "no events="],
    ["[handler]\nclass=script\nevents=sometimes\n", '"sometimes"'],
    ["[handler]\nclass=script\nevents=all\nenabled=perhaps\n", "enabled"],
    ["[handler]\nclass=script\nevents=all\ntimeout=-3\n", "timeout"],
    ["\u0000\u0001\u0002garbage\u00ff", "not a text file"],
  ];
  for (const [text, part] of broken) {
    const error = assertThrows(
      () => parseHandlerIni(FILE, text),
      HandlerFileError,
      part,
    );
    assertTrue(error.message.startsWith(`${FILE}: `), error.message);
  }
});
