/**
 * Figures of the code's shape, for notes and docs/architecture.md: lines
 * in `lib/`, files directly in each folder, files that log, the places
 * that start a clock, and the longest functions. Reads the source as text
 * formatted by `deno fmt` (a body ends at the first `}` at its
 * declaration's indentation), so it needs nothing beyond Deno.
 *
 * Usage: `deno task structure [dir]` (default `lib`).
 *
 * @module
 */

interface FunctionSpan {
  readonly file: string;
  readonly name: string;
  readonly line: number;
  readonly lines: number;
}

const KEYWORDS = new Set([
  "if",
  "for",
  "while",
  "switch",
  "catch",
  "return",
  "await",
  "function",
  "constructor",
]);

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) out.push(...await sources(path));
    else if (entry.name.endsWith(".ts")) out.push(path);
  }
  return out.sort();
}

/** The declared name on `line`, when it starts a function or method. */
function declared(line: string, inClass: boolean): string | null {
  const fn = line.match(
    /^\s*(?:export\s+)?(?:default\s+)?(?:async\s+)?function\*?\s+([\w$]+)/,
  );
  if (fn) return fn[1]!;
  const arrow = line.match(
    /^\s*(?:export\s+)?const\s+([\w$]+)\s*(?::[^=]+)?=\s*(?:async\s+)?(?:\([^)]*\)?|[\w$]+)\s*(?:=>|$)/,
  );
  if (arrow && /=>\s*\{\s*$|\($/.test(line)) return arrow[1]!;
  if (!inClass) return null;
  const method = line.match(
    /^ {2}(?:(?:public|private|protected|static|override|async|readonly|get|set)\s+)*(#?[\w$]+)\s*(?:<[^>]*>)?\(/,
  );
  if (method && !KEYWORDS.has(method[1]!)) return method[1]!;
  const ctor = line.match(/^ {2}constructor\(/);
  return ctor ? "constructor" : null;
}

export function functionSpans(file: string, text: string): FunctionSpan[] {
  const lines = text.split("\n");
  const spans: FunctionSpan[] = [];
  let className: string | null = null;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const cls = line.match(/^(?:export\s+)?(?:abstract\s+)?class\s+([\w$]+)/);
    if (cls) className = cls[1]!;
    else if (line === "}") className = null;
    const name = declared(line, className !== null);
    if (name === null) continue;
    const indent = line.match(/^\s*/)![0];
    // The body opens on the line that ends the signature.
    let open = i;
    while (open < lines.length && !/\{\s*$/.test(lines[open]!)) {
      if (/;\s*$/.test(lines[open]!)) break;
      open++;
    }
    if (open >= lines.length || !/\{\s*$/.test(lines[open]!)) continue;
    let end = open + 1;
    while (
      end < lines.length && !new RegExp(`^${indent}\\}`).test(lines[end]!)
    ) end++;
    const shown = className !== null && indent === "  "
      ? `${className}.${name}`
      : name;
    spans.push({ file, name: shown, line: i + 1, lines: end - i + 1 });
  }
  return spans;
}

async function main(dir: string): Promise<void> {
  const files = await sources(dir);
  const texts = new Map<string, string>();
  for (const file of files) texts.set(file, await Deno.readTextFile(file));
  const count = (text: string) => text.split("\n").length - 1;
  const total = [...texts.values()].reduce((n, t) => n + count(t), 0);
  console.log(`Lines in ${dir}/: ${total} in ${files.length} files`);

  const folders = new Map<string, number>();
  for (const file of files) {
    const folder = file.slice(0, file.lastIndexOf("/"));
    folders.set(folder, (folders.get(folder) ?? 0) + 1);
  }
  console.log("\nFiles directly in each folder:");
  for (const [folder, n] of [...folders].sort()) {
    console.log(`  ${folder}: ${n}${n > 20 ? "  (over 20)" : ""}`);
  }

  const logging = files.filter((f) => /getLogger\(/.test(texts.get(f)!));
  const calls = (text: string) =>
    (text.match(/\blog\.(debug|info|warn|warning|error|fatal)\(/g) ?? [])
      .length;
  console.log(`\nFiles that log: ${logging.length}`);
  for (const file of logging) {
    console.log(`  ${file} (${calls(texts.get(file)!)} calls)`);
  }

  console.log("\nPlaces that start a clock:");
  const clock =
    /\b(setTimeout|setInterval)\(|new (Timers|Debouncer|Burst|FileFollower)\b/;
  for (const file of files) {
    texts.get(file)!.split("\n").forEach((line, i) => {
      if (clock.test(line) && !/^\s*(\/\/|\*)/.test(line)) {
        console.log(`  ${file}:${i + 1}: ${line.trim()}`);
      }
    });
  }

  const spans = files.flatMap((f) => functionSpans(f, texts.get(f)!));
  spans.sort((a, b) => b.lines - a.lines);
  console.log("\nLongest functions (lines):");
  for (const span of spans.slice(0, 10)) {
    console.log(`  ${span.lines}  ${span.name}  ${span.file}:${span.line}`);
  }
  const over = spans.filter((s) => s.lines > 80);
  console.log(`Functions over 80 lines: ${over.length}`);
}

if (import.meta.main) await main(Deno.args[0] ?? "lib");
