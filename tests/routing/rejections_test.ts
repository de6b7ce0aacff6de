/**
 * Listeners HAProxy could not open, traced from its own words to the
 * route that asked for them, and left out on their own.
 */

import {
  assertEquals,
  assertIncludes,
  assertTrue,
} from "../_fixtures/assert.ts";
import { container, exposes, ip, labels } from "../_fixtures/containers.ts";
import { buildRoutes } from "../../lib/routing/routes.ts";
import {
  parseRejections,
  REJECTION_RETRY_MS,
  rejectionsText,
  routeKey,
  routeRejections,
  traceRejections,
  unboundPorts,
  withoutRejected,
} from "../../lib/routing/rejections.ts";

/** What HAProxy 2.6 says when a port is taken, as the master reports it. */
const ALERT =
  "HAProxy did not take the reload: [ALERT]    (3402) : Binding [/etc/haproxy/haproxy.cfg:61] for frontend tcp_18999: cannot bind socket (Address already in use) for [0.0.0.0:18999] | [ALERT]    (3402) : [haproxy.main()] Some protocols failed to start their listeners! Exiting.";

const containers = [
  container(
    "pg",
    ip("10.0.0.2"),
    exposes("18999/tcp"),
    labels({ glue_tcp_ports: "18999" }),
  ),
  container(
    "redis",
    ip("10.0.0.3"),
    exposes("6379/tcp"),
    labels({ glue_tcp_ports: "6379" }),
  ),
  container(
    "web",
    ip("10.0.0.4"),
    labels({ glue_http_8080_host: "web.example.com" }),
  ),
];

Deno.test("rejections: HAProxy's bind error names the port; the operator's own binds are not a route's", () => {
  assertEquals(unboundPorts(ALERT), [18999]);
  const table = buildRoutes(containers, {});
  const [rejection] = traceRejections(ALERT, table, 1000);
  assertEquals(rejection?.key, "listen 18999");
  assertEquals(
    rejection?.message,
    "cannot bind socket (Address already in use) for [0.0.0.0:18999]",
  );
  assertEquals(
    traceRejections(ALERT.replaceAll("18999", "80"), table, 1000),
    [],
  );
});

Deno.test("rejections: only the rejected listener is left out, with a finding that names the container and label", () => {
  const table = buildRoutes(containers, {});
  const rejections = new Map(
    traceRejections(ALERT, table, 1000).map((r) => [r.key, r]),
  );
  const { table: kept, live } = withoutRejected(
    table,
    rejections,
    containers,
    2000,
  );
  assertEquals(kept.tcpRoutes.map((r) => r.listen), [6379]);
  assertEquals(kept.routes.length, table.routes.length);
  assertEquals(live.size, 1);
  const finding = kept.findings.find((f) => f.reason === "rejected");
  assertEquals(
    [finding?.container, finding?.label],
    ["pg", "glue_tcp_ports"],
  );
  assertIncludes(finding?.message ?? "", "Address already in use");
});

Deno.test("rejections: tried again when the containers on the port change, or after the retry time", () => {
  const table = buildRoutes(containers, {});
  const rejections = new Map(
    traceRejections(ALERT, table, 1000).map((r) => [r.key, r]),
  );
  const later = withoutRejected(
    table,
    rejections,
    containers,
    1000 + REJECTION_RETRY_MS,
  );
  assertEquals(later.table.tcpRoutes.length, 2);
  assertEquals(later.live.size, 0);
  const replica = container(
    "pg2",
    ip("10.0.0.5"),
    exposes("18999/tcp"),
    labels({ glue_tcp_ports: "18999" }),
  );
  const grown = buildRoutes([...containers, replica], {});
  assertEquals(
    withoutRejected(grown, rejections, [...containers, replica], 2000).table
      .tcpRoutes.length,
    2,
  );
});

Deno.test("rejections: the file routes reads round-trips, and an entry of the wrong shape is left out", () => {
  const table = buildRoutes(containers, {});
  const traced = traceRejections(ALERT, table, 1000);
  const parsed = parseRejections(rejectionsText(traced));
  assertEquals([...parsed.values()], traced);
  assertEquals(parseRejections('[{"port":"80"},{"port":70000}]').size, 0);
  // The first format, a listener by port, is still read.
  const first = parseRejections(
    '[{"port":18999,"containers":"a","message":"m","at":1}]',
  );
  assertEquals([...first.keys()], ["listen 18999"]);
  assertEquals(parseRejections("not json").size, 0);
  assertTrue(parseRejections("[]").size === 0);
});

Deno.test("rejections: a route haproxy -c refused is left out alone, named in a finding with HAProxy's words, until its containers change", () => {
  const site = container(
    "site",
    ip("10.0.0.7"),
    labels({ glue_http_80_host: "site.example.com" }),
  );
  const all = [...containers, site];
  const table = buildRoutes(all, {});
  const web = table.routes.find((r) => r.host === "site.example.com")!;
  const rejections = new Map(
    routeRejections([web], "could not resolve address", 1000).map((
      r,
    ) => [r.key, r]),
  );
  const { table: kept, live } = withoutRejected(
    table,
    rejections,
    all,
    2000,
  );
  assertEquals(kept.routes.length, table.routes.length - 1);
  assertEquals(kept.tcpRoutes.length, 2);
  assertEquals([...live.keys()], [routeKey(web)]);
  const finding = kept.findings.find((f) => f.reason === "rejected");
  assertEquals(
    [finding?.container, finding?.label],
    ["site", "glue_http_80_host"],
  );
  assertIncludes(finding?.message ?? "", "could not resolve address");
  assertIncludes(finding?.message ?? "", "site.example.com/");
  // Another container joining the route tries it again.
  const replica = container(
    "site2",
    ip("10.0.0.6"),
    labels({ glue_http_80_host: "site.example.com" }),
  );
  const grown = buildRoutes([...all, replica], {});
  assertEquals(
    withoutRejected(grown, rejections, [...all, replica], 2000).table
      .routes.length,
    grown.routes.length,
  );
  // And it round-trips through the file.
  assertEquals(
    parseRejections(rejectionsText(rejections.values())),
    rejections,
  );
});
