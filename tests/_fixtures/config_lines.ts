/**
 * What a rendered haproxy.cfg may hold: the shapes of the lines the built-in
 * template writes per route, and hostile fragments for property tests to
 * try against them.
 *
 * @module
 */

/** Shapes of the lines the template writes per route. */
export const SHAPES: readonly RegExp[] = [
  /^ {4}acl [A-Za-z0-9._:-]+_host var\(txn\.host\) -m (str|end) \.?[a-z0-9.-]+$/,
  /^ {4}acl [A-Za-z0-9._:-]+_path path -m (str|beg) \/[A-Za-z0-9._~!&*+,;=:@%/-]*$/,
  /^ {4}use_backend [A-Za-z0-9._:-]+ if [A-Za-z0-9._:-]+_(host|path)( [A-Za-z0-9._:-]+_path)?$/,
  /^ {4}default_backend [A-Za-z0-9._:-]+$/,
  /^backend [A-Za-z0-9._:-]+$/,
  /^frontend tcp_\d+$/,
  /^ {4}balance (roundrobin|leastconn|random|source)$/,
  /^ {4}# Servers join a hashed backend at runtime only with consistent hashing\.$/,
  /^ {4}hash-type consistent$/,
  /^ {4}# Cookie values derive from each server's address, so servers added at$/,
  /^ {4}# runtime get one too\.$/,
  /^ {4}cookie GLUESRV insert indirect nocache dynamic$/,
  /^ {4}dynamic-cookie-key [0-9a-f]{32}$/,
  /^ {4}option httpchk$/,
  /^ {4}http-check send meth GET uri \/[A-Za-z0-9._~!&*+,;=:@/?%-]*( ver HTTP\/1\.1 hdr Host [a-z0-9.-]+)?$/,
  /^ {4}http-request redirect location https:\/\/%\[var\(txn\.host\)\]:18443%\[capture\.req\.uri\] code 301( if [A-Za-z0-9._:-]+_(host|path)( [A-Za-z0-9._:-]+_path)?)?$/,
  /^ {4}# A GET that fails on a server going away is tried on another one\.$/,
  /^ {4}retry-on all-retryable-errors$/,
  /^ {4}http-request disable-l7-retry unless METH_GET \|\| METH_HEAD$/,
  /^ {4}mode tcp$/,
  /^ {4}option tcplog$/,
  /^ {4}bind 127\.0\.0\.1:\d+$/,
  /^ {4}http-request replace-path '\^[A-Za-z0-9._~!&*+,;=:@%/\\-]+\/\?\(\.\*\)\$' '\/\\1'$/,
  /^ {4}server [A-Za-z0-9._:-]+ ([0-9.]+|[0-9a-f:.]+|[A-Za-z0-9.-]+):\d+ weight \d+( maxconn \d+)? check$/,
];

/** The lines of `text` that are neither in `fixed` nor of a shape above. */
export function foreignLines(
  text: string,
  fixed: ReadonlySet<string>,
): string[] {
  return text.split("\n").filter((line) =>
    !fixed.has(line) && !SHAPES.some((re) => re.test(line))
  );
}

/** Fragments that would break out of a line, a quote or a template. */
export const HOSTILE: readonly string[] = [
  "\n",
  "\r\n",
  "\u0000",
  " ",
  "#",
  "'",
  '"',
  "{",
  "}",
  "{{ x }}",
  "{% raw %}",
  "%[src]",
  "${HOME}",
  "\\",
  "\u2028",
  "é",
  "😀",
  "listen evil\n    bind *:1",
];
