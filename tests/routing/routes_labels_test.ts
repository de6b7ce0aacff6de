/**
 * The route model on labels that go wrong or choose: the environment as
 * labels, networks, bad values and conflicts.
 */

import { assertEquals } from "../_fixtures/assert.ts";
import { type Case, summary, warningsOf } from "../_fixtures/routes.ts";
import { buildRoutes } from "../../lib/routing/routes.ts";
import {
  container,
  created,
  env,
  exposes,
  ip,
  labels,
  network,
} from "../_fixtures/containers.ts";

const cases: Case[] = [
  {
    description: "--include-env reads labels from the environment; labels win",
    options: { includeEnv: true },
    containers: [
      container(
        "e",
        ip("10.0.0.1"),
        env({ glue_http_80_host: "env.com", glue_http_80_weight: "7" }),
      ),
      container(
        "both",
        ip("10.0.0.2"),
        env({ glue_http_80_host: "env.com" }),
        labels({
          glue_http_80_host: "label.com",
        }),
      ),
    ],
    routes: [
      "label.com/ -> both@10.0.0.2:80*100",
      "env.com/ -> e@10.0.0.1:80*7",
    ],
  },
  {
    description: "environment variables are ignored without --include-env",
    containers: [
      container("e", ip("10.0.0.1"), env({ glue_http_80_host: "env.com" })),
    ],
    routes: [],
  },
  {
    description: "user-defined networks: the only one, the label's, the flag's",
    options: { network: "front" },
    containers: [
      container(
        "one",
        network("compose_default", "10.1.0.2"),
        labels({ glue_http_80_host: "one.com" }),
      ),
      container(
        "lbl",
        network("back", "10.2.0.2"),
        network("front", "10.3.0.2"),
        labels({
          glue_http_80_host: "lbl.com",
          glue_network: "back",
        }),
      ),
      container(
        "flag",
        network("back", "10.2.0.3"),
        network("front", "10.3.0.3"),
        labels({
          glue_http_80_host: "flag.com",
        }),
      ),
      container(
        "bridge",
        ip("172.17.0.5"),
        labels({ glue_http_80_host: "bridge.com" }),
      ),
    ],
    routes: [
      "bridge.com/ -> bridge@172.17.0.5:80*100",
      "flag.com/ -> flag@10.3.0.3:80*100",
      "lbl.com/ -> lbl@10.2.0.2:80*100",
      "one.com/ -> one@10.1.0.2:80*100",
    ],
  },
  {
    description: "several networks and none named: first by name, with a note",
    containers: [
      container(
        "many",
        network("zeta", "10.9.0.2"),
        network("alpha", "10.8.0.2"),
        labels({
          glue_http_80_host: "m.com",
        }),
      ),
    ],
    routes: ["m.com/ -> many@10.8.0.2:80*100"],
  },
  {
    description: "a label naming a network the container is not on drops it",
    containers: [
      container(
        "lost",
        network("a", "10.1.0.2"),
        labels({
          glue_http_80_host: "l.com",
          glue_network: "b",
        }),
      ),
    ],
    routes: [],
    warnings: ["lost glue_network"],
  },
  {
    description: "bad labels drop only that container's route",
    containers: [
      container(
        "good",
        ip("10.0.0.1"),
        labels({ glue_http_80_host: "good.com" }),
      ),
      container(
        "badhost",
        ip("10.0.0.2"),
        labels({ glue_http_80_host: "bad host.com" }),
      ),
      container(
        "badprefix",
        ip("10.0.0.3"),
        labels({
          glue_http_80_host: "good.com",
          glue_http_80_prefix: "a b",
        }),
      ),
      container(
        "badweight",
        ip("10.0.0.4"),
        labels({
          glue_http_80_host: "good.com",
          glue_http_80_weight: "999",
        }),
      ),
      container(
        "badstrip",
        ip("10.0.0.5"),
        labels({
          glue_http_80_host: "good.com",
          glue_http_80_strip_prefix: "yes",
        }),
      ),
      container(
        "badport",
        ip("10.0.0.6"),
        labels({ glue_http_99999_host: "good.com" }),
      ),
      container(
        "badports",
        ip("10.0.0.7"),
        labels({ glue_http_ports: "80,x" }),
      ),
      container(
        "halfbad",
        ip("10.0.0.8"),
        exposes("80/tcp", "81/tcp"),
        labels({
          glue_http_80_host: "half.com",
          glue_http_81_host: "half.com",
          glue_http_81_prefix: "api",
          glue_http_81_weight: "-1",
        }),
      ),
    ],
    routes: [
      "good.com/ -> good@10.0.0.1:80*100",
      "half.com/ -> halfbad@10.0.0.8:80*100",
    ],
    warnings: [
      "badhost glue_http_80_host",
      "badport glue_http_99999_host",
      "badports glue_http_ports",
      "badprefix glue_http_80_prefix",
      "badstrip glue_http_80_strip_prefix",
      "badweight glue_http_80_weight",
      "halfbad glue_http_81_weight",
    ],
  },
  {
    description: "strip_prefix conflict: the older container keeps the route",
    containers: [
      container(
        "young",
        ip("10.0.0.1"),
        created("2026-03-01T00:00:00Z"),
        labels({
          glue_http_80_host: "c.com",
          glue_http_80_prefix: "api",
          glue_http_80_strip_prefix: "1",
        }),
      ),
      container(
        "old",
        ip("10.0.0.2"),
        created("2026-02-01T00:00:00Z"),
        labels({
          glue_http_80_host: "c.com",
          glue_http_80_prefix: "api",
        }),
      ),
      container(
        "peer",
        ip("10.0.0.3"),
        created("2026-04-01T00:00:00Z"),
        labels({
          glue_http_80_host: "c.com",
          glue_http_80_prefix: "api",
          glue_http_80_strip_prefix: "0",
        }),
      ),
    ],
    routes: ["c.com/api -> old@10.0.0.2:80*100 peer@10.0.0.3:80*100"],
    warnings: ["young glue_http_80_strip_prefix"],
  },
];

for (const c of cases) {
  Deno.test(`routes: ${c.description}`, () => {
    const table = buildRoutes(c.containers, c.options);
    assertEquals(summary(table), c.routes);
    assertEquals(warningsOf(table).sort(), (c.warnings ?? []).sort());
  });
}
