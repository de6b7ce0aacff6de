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
  /^ {4}use_backend [A-Za-z0-9._:-]+ if( [A-Za-z0-9._:-]+_host)?( [A-Za-z0-9._:-]+_path)?( [A-Za-z0-9._:-]+_match \{ nbsrv\([A-Za-z0-9._:-]+\) gt 0 \})?$/,
  /^ {4}acl [A-Za-z0-9._:-]+_match req\.(hdr|cook)\([A-Za-z0-9!&*+.^_|~-]+\) -m str [A-Za-z0-9._~:/@+=-]+$/,
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
  /^ {4}http-request redirect location https:\/\/%\[var\(txn\.host\)\]:18443%\[capture\.req\.uri\] code 301( if( [A-Za-z0-9._:-]+_host)?( [A-Za-z0-9._:-]+_path)?( [A-Za-z0-9._:-]+_match)?)?$/,
  /^ {4}# A GET that fails on a server going away is tried on another one; one$/,
  /^ {4}# cut at the route's own timeout is answered 504, not tried again\.$/,
  /^ {4}retry-on (all-retryable-errors|conn-failure empty-response junk-response( response-timeout)? 0rtt-rejected( 500 502 503 504)?)$/,
  /^ {4}# An error answer goes to the client, so that it counts against the$/,
  /^ {4}# server \(a retried one is not seen by error_limit\)\.$/,
  /^ {4}http-request disable-l7-retry unless METH_GET \|\| METH_HEAD$/,
  /^ {4}mode tcp$/,
  /^ {4}option tcplog$/,
  /^ {4}bind 127\.0\.0\.1:\d+$/,
  /^ {4}http-request replace-path '\^[A-Za-z0-9._~!&*+,;=:@%/\\-]+\/\?\(\.\*\)\$' '\/\\1'$/,
  /^ {4}server [A-Za-z0-9._:-]+ ([0-9.]+|[0-9a-f:.]+|[A-Za-z0-9.-]+):\d+ weight \d+( maxconn \d+)? check( observe layer7 error-limit [1-9][0-9]* on-error mark-down)?( send-proxy(-v2)?)?( ssl verify (none|required ca-file \/[A-Za-z0-9._/-]+) sni var\(txn\.host\)( check-sni [a-z0-9.-]+)?( verifyhost [a-z0-9.-]+)?)?$/,
  // Route options (issue #22).
  /^ {4}timeout server [1-9][0-9]*(ms|s|m|h)$/,
  /^ {4}timeout tunnel [1-9][0-9]*(ms|s|m|h)$/,
  /^ {4}# A server taken out for its errors comes back when it answers without$/,
  /^ {4}# one: a check that only connects would bring it back at once\.$/,
  /^ {4}http-check send meth GET uri \/( ver HTTP\/1\.1 hdr Host [a-z0-9.-]+)?$/,
  /^ {4}http-check expect ! rstatus \^5$/,
  /^ {4}acl allowed var\(txn\.client\) -m ip [0-9a-f.:]+(\/\d+)?$/,
  /^ {4}http-request deny deny_status 403 unless allowed$/,
  /^ {4}# Requests per client address; the table lives as long as this backend\.$/,
  /^ {4}stick-table type ipv6 size 100k expire ([1-9][0-9]*(ms|s|m|h)) store http_req_rate\(\1\)$/,
  /^ {4}http-request track-sc0 var\(txn\.client\)$/,
  /^ {4}http-request deny deny_status 429 if \{ sc_http_req_rate\(0\) gt \d+ \}$/,
  /^ {4}http-request auth realm "[a-z0-9.*-]+" unless \{ http_auth\([A-Za-z0-9._:-]+\) \}$/,
  /^ {4}http-(request|response) del-header [A-Za-z0-9!&*+.^_|~-]+$/,
  /^ {4}http-(request|response) set-header [A-Za-z0-9!&*+.^_|~-]+ "([\x20\x21\x23\x26-\x5b\x5d-\x7e]|\\[\\"$]|%%)*"$/,
  /^ {4}http-response set-header Strict-Transport-Security "max-age=\d+" if \{ ssl_fc \}$/,
  /^ {4}compression algo gzip$/,
  /^ {4}compression type text\/html text\/plain text\/css text\/xml text\/javascript application\/javascript application\/json application\/xml image\/svg\+xml$/,
  /^userlist [A-Za-z0-9._:-]+$/,
  /^ {4}user [A-Za-z0-9._@-]+ password '\$[0-9a-z]+\$[A-Za-z0-9./$=]+'$/,
  // redirect_from (issue #34).
  /^ {4}http-request redirect location https?:\/\/[a-z0-9.-]+:%\[req\.hdr\(host\),field\(2,:\)\]%\[capture\.req\.uri\] code 308 if [A-Za-z0-9._:-]+_host \{ req\.hdr\(host\) -m sub : \}$/,
  /^ {4}http-request redirect location https?:\/\/[a-z0-9.-]+%\[capture\.req\.uri\] code 308 if [A-Za-z0-9._:-]+_host$/,
  // Forward auth (issue #34); the property test renders it without maps.
  /^ {4}# Forward auth: the auth service says whether a request passes; the$/,
  /^ {4}# user headers come from its answer only\.$/,
  /^ {4}# Without HAProxy's Lua and runtime API nobody can be asked: never open\.$/,
  /^ {4}http-request return status 503 default-errorfiles$/,
  /^ {4}http-request set-var\(txn\.glue_auth\) be_name,map_str\(\/[A-Za-z0-9._/-]+\)$/,
  /^ {4}http-request lua\.glue_forward_auth \d+ [A-Za-z0-9!&*+.^_|~,-]+$/,
  /^ {4}http-request return status 503 default-errorfiles if \{ var\(txn\.glue_auth_down\) -m found \}$/,
  /^ {4}http-response lua\.glue_forward_auth_cookies if \{ var\(txn\.glue_auth_cookies\) -m found \}$/,
  // TLS passthrough by server name.
  /^frontend https_sni$/,
  /^ {4}# The server name is read from the TLS hello; nothing is decrypted\.$/,
  /^ {4}tcp-request inspect-delay 5s$/,
  /^ {4}tcp-request content accept if \{ req_ssl_hello_type 1 \}$/,
  /^ {4}use_backend [A-Za-z0-9._:-]+ if \{ req_ssl_sni -i( -m end)? \.?[a-z0-9.-]+ \}$/,
  /^backend https_terminate$/,
  /^ {4}# The connections HAProxy terminates itself, with the client's address\.$/,
  /^ {4}server https unix@\/[A-Za-z0-9._/-]+ send-proxy-v2$/,
  /^ {4}bind unix@\/[A-Za-z0-9._/-]+ accept-proxy ssl crt \/[A-Za-z0-9._/-]+ crt-list \/[A-Za-z0-9._/-]+ alpn h2,http\/1\.1$/,
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
