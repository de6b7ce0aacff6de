/**
 * Hostile etcd documents through the whole pipeline: whatever a writer under
 * the prefix puts in a document's fields, the engine's file holds only lines
 * of the template's shapes, its map files only host and backend, and its
 * runtime commands only safe words; the good documents beside them stay
 * routed.
 */

import fc from "fast-check";
import { assertEquals, assertTrue } from "../_fixtures/assert.ts";
import { container, labels, publishes } from "../_fixtures/containers.ts";
import { foreignLines, HOSTILE } from "../_fixtures/config_lines.ts";
import { recordedEngine } from "../_fixtures/recording_haproxy.ts";
import type { ContainerRecord } from "../../lib/docker/container.ts";
import { ContainerRecords } from "../../lib/docker/records.ts";
import { containerDocument } from "../../lib/sources/document.ts";
import {
  DocumentError,
  parseContainerDocument,
} from "../../lib/sources/document_read.ts";

/** The fields a writer controls, as paths into the document. */
const FIELDS = [
  "advertiseAddress",
  "hostId",
  "id",
  "name",
  "image",
  "created",
  "labels.glue_http_80_host",
  "labels.glue_network",
  "state.health",
  "state.restartCount",
  "state.running",
  "ipAddress",
  "networks.bridge",
  "exposedPorts.0",
  "publishedPorts.0.port",
  "publishedPorts.0.hostIp",
  "publishedPorts.0.hostPort",
] as const;

const hostileValue = fc.oneof(
  fc.constantFrom<unknown>(
    ...HOSTILE,
    "192.0.2.1:1 check\n    listen injected\n    bind 127.0.0.1:2222\n#",
    "192.0.2.1 backup",
    "192.0.2.1;add server x/y 1.2.3.4:5",
    "fd00::1]:80",
    "999.1.1.1",
    // A host name HAProxy would resolve at check time (issue 31).
    "no-such-host.invalid",
    "docker1.example.com",
    "a..b",
    "-a.example.com",
    "80/tcp\n",
    "80/tls",
    "0/tcp",
    "65536/tcp",
    0,
    -1,
    65536,
    99999,
    1.5,
    null,
    true,
    [],
    {},
    "x".repeat(300),
  ),
  fc.tuple(
    fc.constantFrom("192.0.2.7", "fd00::7", "h.example.com", "80/tcp", "none"),
    fc.constantFrom(...HOSTILE),
  ).map(([a, b]) => a + b),
  fc.string({ unit: "binary", maxLength: 30 }),
);

/** What a good publisher may say of its address. */
const ADDRESSES = ["192.0.2.10", "fd00::10"];

let serial = 0;

function documentOf(host: string, address: string, hostPort: number) {
  serial++;
  const record = container(
    `w${serial}`,
    labels({ glue_http_80_host: host }),
    publishes("80/tcp", hostPort),
  );
  const hostId = `h${serial}`;
  return {
    hostId,
    id: record.id,
    doc: JSON.parse(JSON.stringify(containerDocument(record, hostId, address))),
  };
}

function setPath(doc: Record<string, unknown>, path: string, value: unknown) {
  const parts = path.split(".");
  let at: Record<string, unknown> = doc;
  for (const part of parts.slice(0, -1)) {
    at[part] ??= {};
    at = at[part] as Record<string, unknown>;
  }
  at[parts.at(-1)!] = value;
}

const hostile = fc.record({
  changes: fc.array(
    fc.tuple(fc.constantFrom(...FIELDS), hostileValue),
    { minLength: 1, maxLength: 3 },
  ),
  address: fc.constantFrom(...ADDRESSES),
}).map(({ changes, address }) => {
  const made = documentOf("evil.example.com", address, 8080);
  for (const [field, value] of changes) setPath(made.doc, field, value);
  return made;
});

const good = fc.constantFrom(...ADDRESSES).map((address) => {
  const made = documentOf(`good${serial + 1}.example.org`, address, 32080);
  return { ...made, host: `good${serial}.example.org` };
});

const samples = fc.tuple(
  fc.array(hostile, { minLength: 1, maxLength: 6 }),
  fc.array(good, { minLength: 1, maxLength: 3 }),
);

/** The engine over `source`, HAProxy recorded, its file under `dir`. */
function engineOver(source: ContainerRecords, dir: string) {
  return recordedEngine(source, `${dir}/haproxy.cfg`, {
    httpBind: ["127.0.0.1:18080"],
    statsBind: "127.0.0.1:18404",
    tcpBindAddress: "127.0.0.1",
  });
}

/** A runtime command is one line of plain words: `;` or a newline would start another. */
const COMMAND_WORD = /^[A-Za-z0-9._:/@%=-]+$/;
const MAP_LINE = /^[a-z0-9.:-]+ [A-Za-z0-9_]+$/;

Deno.test("property: hostile etcd documents add no foreign line, map entry or runtime command, and good ones stay routed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "docker-glue-documents-" });
  try {
    // The lines the template writes with no containers at all.
    const empty = engineOver(new ContainerRecords(), dir);
    await empty.engine.update();
    await empty.engine.flush();
    const fixed = new Set(empty.haproxy.text.split("\n"));
    await empty.engine.close();

    let refused = 0;
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(samples, async ([bad, fine]) => {
        const source = new ContainerRecords();
        const { engine, haproxy, hostMap } = engineOver(source, dir);
        try {
          const read = (d: { hostId: string; id: string; doc: unknown }) =>
            parseContainerDocument(d.hostId, d.id, JSON.stringify(d.doc));
          for (const d of fine) source.set(read(d));
          // HAProxy starts with the good ones; the rest come as changes,
          // through the runtime API.
          await engine.update();
          await engine.flush();
          for (const d of bad) {
            let record: ContainerRecord;
            try {
              record = read(d);
            } catch (error) {
              assertTrue(error instanceof DocumentError, String(error));
              refused++;
              continue;
            }
            accepted++;
            source.set(record);
          }
          await engine.update();
          await engine.flush();
          assertEquals(foreignLines(haproxy.text, fixed), []);
          for (const command of haproxy.commands) {
            assertTrue(
              command.split(" ").every((word) => COMMAND_WORD.test(word)),
              JSON.stringify(command),
            );
          }
          for (const file of haproxy.files) {
            if (!file.path.endsWith(".map")) continue;
            for (const line of file.text.split("\n")) {
              if (line === "") continue;
              assertTrue(MAP_LINE.test(line), JSON.stringify(line));
            }
          }
          const routed = new Map(await haproxy.mapEntries(hostMap));
          for (const d of fine) {
            const host = d.doc.labels.glue_http_80_host;
            assertTrue(routed.has(host), `${host} lost its route`);
          }
        } finally {
          await engine.close();
        }
      }),
      { numRuns: 150 },
    );
    // Both kinds were tried: the generator is not all refusals.
    assertTrue(refused > 0 && accepted > 0, `${refused} / ${accepted}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
