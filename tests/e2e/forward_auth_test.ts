/**
 * Forward auth (issue 34 point 1) through a real HAProxy: a sign-on
 * container that follows Authelia's contract (200 with Remote-User for a
 * request carrying its session cookie, 302 to its login page otherwise)
 * decides for a route; the route's container sees the user it names and
 * never one the client sent; a slow or stopped sign-on service means 503,
 * never an open door.
 */

import {
  assertEquals,
  assertExcludes,
  assertIncludes,
  assertTrue,
} from "../_fixtures/assert.ts";
import {
  curl,
  docker,
  readRoutes,
  runContainer,
  runScriptServer,
  startManaged,
  waitForStatus,
} from "./_harness.ts";
import { withCleanup } from "../_fixtures/cleanup.ts";

// The sign-on service: answers as Authelia's /api/authz/forward-auth does,
// and takes 3 s while /srv/slow exists. It echoes what it was told of the
// request into the login URL.
const SIGN_ON = `read_head
[ -e /srv/slow ] && sleep 3
field() { printf '%s' "$head" | busybox sed -n "s/^$1: //p"; }
case "$head" in
*"session=alice"*|*"Authorization: Bearer alice-token"*)
  printf 'HTTP/1.1 200 OK\\r\\nRemote-User: alice\\r\\nRemote-Groups: admins\\r\\nRemote-Groups: dev\\r\\nSet-Cookie: session=alice; Max-Age=3600\\r\\nContent-Length: 0\\r\\nConnection: close\\r\\n\\r\\n';;
*)
  printf 'HTTP/1.1 302 Found\\r\\nLocation: https://login.example.com/?rd=%s://%s%s&m=%s\\r\\nSet-Cookie: flow=started\\r\\nContent-Type: text/plain\\r\\nContent-Length: 12\\r\\nConnection: close\\r\\n\\r\\nplease login' "$(field X-Forwarded-Proto)" "$(field X-Forwarded-Host)" "$(field X-Forwarded-Uri)" "$(field X-Forwarded-Method)";;
esac
`;

// The route's container: a CGI script that says who HAProxy says is asking.
const APP = [
  "sh",
  "-c",
  [
    "mkdir -p /www/cgi-bin",
    `printf '#!/bin/sh\\necho Content-Type: text/plain\\necho\\necho "user=$HTTP_REMOTE_USER groups=$HTTP_REMOTE_GROUPS"\\n' > /www/cgi-bin/who`,
    "chmod 755 /www/cgi-bin/who",
    "exec httpd -f -p 80 -h /www",
  ].join(" && "),
];

Deno.test({
  name:
    "e2e forward auth: no session gets the sign-on's 302, a session reaches the container as its user (never the client's), a slow or stopped sign-on is 503",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: (t) =>
    withCleanup(async (cleanup) => {
      const { net, port, args } = await startManaged(
        cleanup,
        "docker-glue-test-fauth",
      );
      const dir = await runScriptServer(
        cleanup,
        "dg-fauth-sso",
        { network: net.name, labels: {} },
        SIGN_ON,
      );
      await runContainer("dg-fauth-app", {
        network: net.name,
        labels: {
          glue_http_80_host: "app.example.com",
          glue_http_80_forward_auth: "container:dg-fauth-sso:80/verify",
          glue_http_80_forward_auth_timeout: "1s",
        },
        command: APP,
      });
      const url = `http://127.0.0.1:${port}/cgi-bin/who?x=1`;
      const host = ["-H", "Host: app.example.com"];
      await waitForStatus(port, "app.example.com", "/cgi-bin/who", 302);

      await t.step("routes shows where the route asks", async () => {
        const report = await readRoutes(args);
        const route = report.routes.find((r) => r.host === "app.example.com");
        assertEquals(route?.options, [
          "forward_auth=container:dg-fauth-sso:80/verify",
          "forward_auth_timeout=1000ms",
        ]);
      });

      await t.step(
        "without a session: the sign-on's 302 as it gave it",
        async () => {
          const res = await curl(url, ...host, "-X", "POST", "-d", "a=1");
          assertEquals(res.status, 302);
          assertIncludes(
            res.headers,
            "location: https://login.example.com/?rd=http://app.example.com/cgi-bin/who?x=1&m=POST",
          );
          assertIncludes(res.headers.toLowerCase(), "set-cookie: flow=started");
          assertEquals(res.body, "please login");
        },
      );

      await t.step(
        "with a session: the container sees the sign-on's user, never the client's; the session cookie is refreshed",
        async () => {
          const res = await curl(
            url,
            ...host,
            "-H",
            "Cookie: theme=dark; session=alice",
            "-H",
            "Remote-User: mallory",
            "-H",
            "Remote-Email: mallory@example.com",
          );
          assertEquals(res.status, 200);
          assertEquals(res.body.trim(), "user=alice groups=admins, dev");
          assertIncludes(
            res.headers.toLowerCase(),
            "set-cookie: session=alice; max-age=3600",
          );
          // Without a session, a Remote-User sent by the client gets nowhere.
          const forged = await curl(url, ...host, "-H", "Remote-User: alice");
          assertEquals(forged.status, 302);
          // The client's Authorization reaches the sign-on service too.
          const bearer = await curl(
            url,
            ...host,
            "-H",
            "Authorization: Bearer alice-token",
          );
          assertEquals(bearer.body.trim(), "user=alice groups=admins, dev");
        },
      );

      await t.step(
        "a sign-on slower than the time limit: 503 at the limit",
        async () => {
          await Deno.writeTextFile(`${dir}/slow`, "");
          const start = performance.now();
          const res = await curl(url, ...host, "-H", "Cookie: session=alice");
          const took = performance.now() - start;
          await Deno.remove(`${dir}/slow`);
          assertEquals(res.status, 503);
          assertExcludes(res.body, "user=");
          // forward_auth_timeout is 1 s; the sign-on takes 3 s.
          assertTrue(took >= 900 && took < 2500, `answered after ${took} ms`);
        },
      );

      await t.step(
        "the sign-on stopped: 503, and back when it is",
        async () => {
          await docker("kill", "dg-fauth-sso");
          await waitForStatus(port, "app.example.com", "/cgi-bin/who", 503);
          const res = await curl(url, ...host, "-H", "Cookie: session=alice");
          assertEquals(res.status, 503);
          await docker("start", "dg-fauth-sso");
          await waitForStatus(port, "app.example.com", "/cgi-bin/who", 302);
          const back = await curl(url, ...host, "-H", "Cookie: session=alice");
          assertEquals(back.body.trim(), "user=alice groups=admins, dev");
        },
      );
    }),
});
