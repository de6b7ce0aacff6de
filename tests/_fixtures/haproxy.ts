/**
 * Runs the real `haproxy -c` on a configuration text.
 *
 * @module
 */

/** Validates `text` with `haproxy -c`; returns HAProxy's verdict and output. */
export async function haproxyCheck(
  text: string,
): Promise<{ ok: boolean; output: string }> {
  const file = await Deno.makeTempFile({ suffix: ".cfg" });
  try {
    await Deno.writeTextFile(file, text);
    const out = await new Deno.Command("haproxy", {
      args: ["-c", "-f", file],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    return {
      ok: out.success,
      output: dec.decode(out.stdout) + dec.decode(out.stderr),
    };
  } finally {
    await Deno.remove(file);
  }
}
