/**
 * Splits a command line written as one string (a flag value or an rc file
 * variable) into an argv array, so it can run without a shell.
 *
 * @module
 */

/**
 * Splits on unquoted whitespace. Single quotes keep everything literally,
 * double quotes keep everything but `\"` and `\\`, and a backslash outside
 * quotes escapes the next character. Nothing is expanded: no variables, globs
 * or command substitution.
 *
 * @throws {SyntaxError} on an unterminated quote or a trailing backslash.
 */
export function splitArgs(line: string): string[] {
  const args: string[] = [];
  let current = "";
  let inWord = false;
  let quote: "'" | '"' | null = null;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i] as string;
    if (quote === "'") {
      if (ch === "'") quote = null;
      else current += ch;
    } else if (quote === '"') {
      if (ch === '"') quote = null;
      else if (ch === "\\" && (line[i + 1] === '"' || line[i + 1] === "\\")) {
        current += line[++i];
      } else current += ch;
    } else if (/\s/.test(ch)) {
      if (inWord) args.push(current);
      current = "";
      inWord = false;
    } else {
      inWord = true;
      if (ch === "'" || ch === '"') quote = ch;
      else if (ch === "\\") {
        if (i + 1 >= line.length) {
          throw new SyntaxError(
            `Cannot split ${JSON.stringify(line)}: trailing backslash`,
          );
        }
        current += line[++i];
      } else current += ch;
    }
  }
  if (quote !== null) {
    throw new SyntaxError(
      `Cannot split ${JSON.stringify(line)}: unterminated ${quote} quote`,
    );
  }
  if (inWord) args.push(current);
  return args;
}
