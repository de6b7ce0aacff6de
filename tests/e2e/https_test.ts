/**
 * HTTPS end to end: docker-balancer runs HAProxy with an HTTPS frontend,
 * certificates made by openssl for the test, and containers labelled tls,
 * redirect_https, sticky and check. HAProxy's master is the witness that
 * certificate changes need no reload.
 */

import {
  assertEquals,
  assertIncludes,
  assertTrue,
} from "../_fixtures/assert.ts";
import {
  clearLeftoverContainers,
  ensureImage,
  freePort,
  httpGet,
  managedBalancer,
  masterReloads,
  runContainer,
  tcpExchange,
  testHaproxyDir,
  testNetwork,
  testTempDir,
  waitFor,
  waitForBody,
} from "./_harness.ts";
import { createCa, fingerprintOf, httpsGet, servedCert } from "./_tls.ts";
import { withCleanup } from "../_fixtures/cleanup.ts";

// busybox httpd runs /www/cgi-bin/h as CGI: it answers with the forwarding
// headers HAProxy set.
const HEADERS_SERVER =
  'mkdir -p /www/cgi-bin && echo "$NAME /" > /www/whoami && busybox printf \'#!/bin/sh\\necho Content-Type: text/plain\\necho\\necho "proto=$HTTP_X_FORWARDED_PROTO port=$HTTP_X_FORWARDED_PORT"\\n\' > /www/cgi-bin/h && busybox chmod +x /www/cgi-bin/h && exec httpd -f -p 80 -h /www';

Deno.test({
  name:
    "e2e https: SNI picks certificate and container, redirects keep path and query, certificates change without reloads, sticky and checks work",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: (t) =>
    withCleanup(async (cleanup) => {
      await ensureImage();
      await clearLeftoverContainers();
      const net = await testNetwork(cleanup, "docker-glue-test-https");
      const dir = await testHaproxyDir(cleanup);
      const certs = dir.certs;
      const work = await testTempDir(cleanup, "docker-glue-ca-");
      const http = freePort();
      const https = freePort();
      const ca = await createCa(work);
      await Deno.mkdir(certs);
      const aPem = await ca.issue(["a.example.com"]);
      await Deno.writeTextFile(`${certs}/a.example.com.pem`, aPem);
      await Deno.writeTextFile(
        `${certs}/headers.pem`,
        await ca.issue(["headers.example.com"]),
      );
      await Deno.writeTextFile(
        `${certs}/wild.pem`,
        await ca.issue(["*.wild.example.com"]),
      );
      await runContainer("dg-s-a", {
        network: net.name,
        labels: { glue_http_80_host: "a.example.com", glue_http_80_tls: "1" },
      });
      await runContainer("dg-s-b", {
        network: net.name,
        labels: {
          glue_http_80_host: "b.wild.example.com",
          glue_http_80_redirect_https: "1",
        },
      });
      await runContainer("dg-s-plain", {
        network: net.name,
        labels: { glue_http_80_host: "plain.example.com" },
      });
      await runContainer("dg-s-h", {
        network: net.name,
        labels: {
          glue_http_80_host: "headers.example.com",
          glue_http_80_tls: "1",
        },
        extra: ["--entrypoint", "sh"],
        command: ["-c", HEADERS_SERVER],
      });
      const started = await managedBalancer(cleanup, [
        ...dir.listenArgs(http),
        ...dir.httpsArgs(https),
      ]);
      await waitForBody(http, "plain.example.com", "/whoami", "dg-s-plain /");

      await t.step(
        "SNI picks the certificate, Host the container",
        async () => {
          const a = await waitFor("a.example.com over HTTPS", async () => {
            const r = await httpsGet(https, "a.example.com", "/whoami", [
              ca.pem,
            ]);
            return r.status === 200 ? r : undefined;
          });
          assertEquals(a.body, "dg-s-a /");
          assertEquals(
            (await servedCert(https, "a.example.com")).fingerprint,
            fingerprintOf(aPem),
          );
          // A wildcard certificate serves a name under it.
          const b = await httpsGet(https, "b.wild.example.com", "/whoami", [
            ca.pem,
          ]);
          assertEquals(b.body, "dg-s-b /");
          // A route without tls is not on HTTPS; an unknown name gets the
          // self-signed default certificate.
          const plain = await servedCert(https, "plain.example.com");
          assertIncludes(plain.subject, "docker-balancer default certificate");
          await started.waitForLine(
            /matches no certificate get a self-signed one/,
          );
        },
      );

      await t.step("HTTP/2 is offered by ALPN", async () => {
        const r = await httpsGet(https, "a.example.com", "/whoami", [ca.pem], {
          alpn: ["h2", "http/1.1"],
        });
        assertEquals(r.alpn, "h2");
      });

      await t.step("backends get X-Forwarded-Proto and -Port", async () => {
        const plain = await httpGet(http, "headers.example.com", "/cgi-bin/h");
        assertEquals(plain.body, `proto=http port=${http}`);
        const tls = await httpsGet(https, "headers.example.com", "/cgi-bin/h", [
          ca.pem,
        ]);
        assertEquals(tls.body, `proto=https port=${https}`);
      });

      await t.step("redirect_https keeps path and query", async () => {
        const raw = await tcpExchange(
          http,
          "GET /some/path?x=1&y=two HTTP/1.1\r\nHost: B.wild.example.com:80\r\nConnection: close\r\n\r\n",
        );
        assertIncludes(raw, "HTTP/1.1 301");
        assertIncludes(
          raw.toLowerCase(),
          `location: https://b.wild.example.com:${https}/some/path?x=1&y=two`,
        );
        // A tls route without redirect still answers on plain HTTP.
        assertEquals(
          (await httpGet(http, "a.example.com", "/whoami")).body,
          "dg-s-a /",
        );
      });

      await t.step(
        "a certificate replaced, added or broken in the directory is served within a second, with no reload",
        async () => {
          const before = await masterReloads();
          const renewed = await ca.issue(["a.example.com"]);
          const t0 = performance.now();
          // As an operator or certbot would: a new file renamed over the old.
          await Deno.writeTextFile(`${certs}/.a.tmp`, renewed);
          await Deno.rename(`${certs}/.a.tmp`, `${certs}/a.example.com.pem`);
          await waitFor(
            "the renewed certificate",
            async () =>
              (await servedCert(https, "a.example.com")).fingerprint ===
                  fingerprintOf(renewed)
                ? true
                : undefined,
            5000,
            20,
          );
          const replaced = performance.now() - t0;
          assertTrue(replaced < 1000, `served after ${replaced} ms`);

          const cPem = await ca.issue(["c.example.com"]);
          await Deno.writeTextFile(`${certs}/c.example.com.pem`, cPem);
          await waitFor(
            "the added certificate",
            async () =>
              (await servedCert(https, "c.example.com")).fingerprint ===
                  fingerprintOf(cPem)
                ? true
                : undefined,
            1000,
            20,
          );

          // A key that does not belong to the certificate: one line naming
          // the file, and every other certificate keeps serving.
          const other = await ca.issue(["d.example.com"]);
          const mismatched = cPem.slice(0, cPem.indexOf("-----BEGIN PRIVATE")) +
            other.slice(other.indexOf("-----BEGIN PRIVATE"));
          await Deno.writeTextFile(`${certs}/d.example.com.pem`, mismatched);
          await started.waitForLine(
            /Certificate .*d\.example\.com\.pem: the private key does not match the certificate; not served/,
            5000,
          );
          assertEquals(
            (await servedCert(https, "a.example.com")).fingerprint,
            fingerprintOf(renewed),
          );
          await Deno.remove(`${certs}/c.example.com.pem`);
          await waitFor(
            "the removed certificate gone",
            async () =>
              (await servedCert(https, "c.example.com")).subject.includes(
                  "docker-balancer default",
                )
                ? true
                : undefined,
            2000,
            20,
          );
          assertEquals(await masterReloads(), before);
          console.log(
            `certificate replaced and served in ${replaced.toFixed(0)} ms`,
          );
        },
      );

      await t.step(
        "sticky keeps one client on one server over 50 requests while two are up",
        async () => {
          const labels = {
            glue_http_80_host: "sticky.example.com",
            glue_http_80_sticky: "1",
          };
          await runContainer("dg-s-st1", { network: net.name, labels });
          await waitForBody(
            http,
            "sticky.example.com",
            "/whoami",
            "dg-s-st1 /",
          );
          await runContainer("dg-s-st2", { network: net.name, labels });
          // Without the cookie both servers answer.
          await waitFor("both sticky servers", async () => {
            const seen = new Set<string>();
            for (let i = 0; i < 8; i++) {
              seen.add(
                (await httpGet(http, "sticky.example.com", "/whoami")).body,
              );
            }
            return seen.size === 2 ? true : undefined;
          });
          const first = await tcpExchange(
            http,
            "GET /whoami HTTP/1.1\r\nHost: sticky.example.com\r\nConnection: close\r\n\r\n",
          );
          const cookie = /set-cookie: (GLUESRV=[^;\r\n]+)/i.exec(first)?.[1];
          assertTrue(cookie !== undefined, first);
          const server = first.slice(first.indexOf("\r\n\r\n") + 4).trim();
          for (let i = 0; i < 50; i++) {
            const r = await tcpExchange(
              http,
              `GET /whoami HTTP/1.1\r\nHost: sticky.example.com\r\nCookie: ${cookie}\r\nConnection: close\r\n\r\n`,
            );
            assertEquals(r.slice(r.indexOf("\r\n\r\n") + 4).trim(), server);
          }
        },
      );

      await t.step("a failing check path takes a server out", async () => {
        const labels = {
          glue_http_80_host: "checked.example.com",
          glue_http_80_check: "/healthz/whoami",
        };
        await runContainer("dg-s-ok", {
          network: net.name,
          labels,
          servePaths: ["/healthz"],
        });
        await runContainer("dg-s-sick", { network: net.name, labels });
        await waitForBody(http, "checked.example.com", "/whoami", "dg-s-ok /");
        // Once the checks have run, every request goes to the healthy one.
        await waitFor(
          "the failing server out",
          async () => {
            for (let i = 0; i < 10; i++) {
              const r = await httpGet(http, "checked.example.com", "/whoami");
              if (r.body !== "dg-s-ok /") {
                return undefined;
              }
            }
            return true;
          },
          10000,
          100,
        );
      });
    }),
});
