/**
 * What HAProxy reads besides the configuration: host maps, the ACME token
 * map and the HTTPS frontend's certificates, as one update wants them, and
 * the certificate files written for them.
 *
 * @module
 */

import type {
  CertChange,
  CertFile,
  HostMap,
  MapChange,
} from "../plan/plan_types.ts";
import {
  EMPTY_POOL,
  type HostMaps,
  mapText,
  parseMapText,
  type PoolAssignment,
  seedPool,
} from "./pool.ts";
import { readOrNull } from "../../util/files.ts";
import type { MapFiles } from "../render/render.ts";
import {
  crtListText,
  pruneLiveFiles,
  type ServedCerts,
  servedCerts,
  type TlsFiles,
  writeLiveFiles,
} from "./tls.ts";
import type { RuntimeExpectation } from "../plan/runtime_ops.ts";
import { GLUE_LUA } from "../render/builtin_templates.ts";

/** The maps and certificates of one update. */
export interface Companions {
  /** Map files and their entries; a `first` map's go in before anything (MapChange.first). */
  readonly maps: readonly {
    file: string;
    entries: HostMap;
    first?: boolean;
  }[];
  /** The HTTPS frontend's certificates, or null without HTTPS. */
  readonly certs: ServedCerts | null;
  /** Files HAProxy loads whose text never changes (the Lua actions). */
  readonly scripts: readonly { path: string; text: string }[];
}

/** Where the companions come from. */
export interface CompanionSources {
  /** The map files the template reads. */
  readonly maps?: Partial<MapFiles> | undefined;
  /** The HTTPS frontend's certificates; absent: no HTTPS. */
  readonly tls?: TlsFiles | undefined;
  /** ACME HTTP-01 tokens HAProxy answers with (`maps.acme`). */
  readonly challenges?: { entries(): HostMap } | undefined;
}

/**
 * The maps and certificates for an update with these host maps and these
 * hosts that lost their routes lately.
 */
export function companionsFor(
  sources: CompanionSources,
  hostMaps: HostMaps | undefined,
  gone: HostMap = [],
  fresh: HostMap = [],
  auth: HostMap = [],
): Companions {
  const files = sources.maps ?? {};
  const tls = sources.tls;
  const maps: { file: string; entries: HostMap; first?: boolean }[] = [];
  if (files.gone) {
    maps.push({ file: files.gone, entries: gone, first: true });
  }
  if (files.fresh) {
    maps.push({ file: files.fresh, entries: fresh, first: true });
  }
  if (files.auth) {
    // Before a new backend takes requests, it knows where to ask.
    maps.push({ file: files.auth, entries: auth, first: true });
  }
  if (hostMaps !== undefined) {
    if (files.http) maps.push({ file: files.http, entries: hostMaps.http });
    if (tls !== undefined && files.https) {
      maps.push({ file: files.https, entries: hostMaps.https });
    }
    if (tls !== undefined && files.redirect) {
      maps.push({ file: files.redirect, entries: hostMaps.redirect });
    }
  }
  if (files.acme) {
    const entries = [...sources.challenges?.entries() ?? []].sort((
      [a],
      [b],
    ) => a < b ? -1 : a > b ? 1 : 0);
    maps.push({ file: files.acme, entries });
  }
  return {
    maps,
    certs: tls === undefined ? null : servedCerts(tls),
    scripts: files.fresh && files.lua
      ? [{ path: files.lua, text: GLUE_LUA }]
      : [],
  };
}

/** Every certificate file of an update, the default first, and a key naming the set. */
export function certFiles(
  companions: Companions,
): { certs: CertFile[]; key: string } | null {
  if (companions.certs === null) return null;
  const certs = [companions.certs.defaultCert, ...companions.certs.certs];
  return { certs, key: certs.map((cert) => cert.path).join("\n") };
}

/**
 * The files a configuration is checked with beside it: the companion
 * files and the certificates, as `checkConfig` takes them.
 */
export function checkedFiles(
  companions: Companions,
  tls: TlsFiles | undefined,
): { path: string; text: string }[] {
  return [
    ...companionFiles(companions, tls),
    ...(certFiles(companions)?.certs ?? []).map((cert) => ({
      path: cert.path,
      text: cert.pem,
    })),
  ];
}

/** The companion files' paths and texts, for installing with the configuration. */
export function companionFiles(
  companions: Companions,
  tls: TlsFiles | undefined,
): { path: string; text: string }[] {
  return [
    ...companions.scripts,
    ...companions.maps.map(({ file, entries }) => ({
      path: file,
      text: mapText(entries),
    })),
    ...(tls === undefined || companions.certs === null ? [] : [{
      path: tls.crtList,
      text: crtListText(companions.certs.certs),
    }]),
  ];
}

/** What HAProxy runs of the companions: the maps and the crt-list's certificates. */
export interface RunningCompanions {
  /** Map entries by file. */
  readonly maps: ReadonlyMap<string, HostMap>;
  /** The crt-list's certificates. */
  readonly certs: readonly CertFile[];
}

/** Nothing known to run. */
export const NO_COMPANIONS: RunningCompanions = { maps: new Map(), certs: [] };

/** What HAProxy runs once it has `companions`. */
export function runningOf(companions: Companions): RunningCompanions {
  return {
    maps: new Map(companions.maps.map(({ file, entries }) => [file, entries])),
    certs: companions.certs?.certs ?? [],
  };
}

/** The map and certificate changes from what runs to `companions`, for the planner. */
export function companionChanges(
  running: RunningCompanions,
  companions: Companions,
  tls: TlsFiles | undefined,
): { maps: MapChange[]; certs?: CertChange } {
  return {
    maps: companions.maps.map(({ file, entries, first }): MapChange => ({
      file,
      before: running.maps.get(file) ?? [],
      after: entries,
      ...(first ? { first } : {}),
    })),
    ...(tls === undefined || companions.certs === null ? {} : {
      certs: {
        crtList: tls.crtList,
        before: running.certs,
        after: companions.certs.certs,
      },
    }),
  };
}

/** What HAProxy should report after a runtime change to `companions`. */
export function expectationOf(
  companions: Companions,
  tls: TlsFiles | undefined,
): RuntimeExpectation {
  return {
    maps: companions.maps,
    ...(tls === undefined || companions.certs === null ? {} : {
      crtList: {
        file: tls.crtList,
        paths: companions.certs.certs.map((cert) => cert.path),
      },
    }),
  };
}

/**
 * The certificate files HAProxy reads, written before it is told of them.
 * Most updates change servers only: a set written already is not written
 * again until {@link CertWriter.forget} (before a reload, which reads every
 * file again).
 */
export class CertWriter {
  readonly #tls: TlsFiles | undefined;
  #written = "";
  #prunedFor = "";

  /** Creates the writer; without `tls` it does nothing. */
  constructor(tls: TlsFiles | undefined) {
    this.#tls = tls;
  }

  /** Writes the update's certificate files, unless this set is written already. */
  async write(companions: Companions): Promise<void> {
    const files = certFiles(companions);
    if (this.#tls === undefined || files === null) return;
    if (files.key === this.#written) return;
    await writeLiveFiles(this.#tls.liveDir, files.certs);
    this.#written = files.key;
  }

  /** Removes the certificate files no longer served, once per set. */
  async prune(companions: Companions): Promise<void> {
    const files = certFiles(companions);
    if (this.#tls === undefined || files === null) return;
    if (files.key === this.#prunedFor) return;
    await pruneLiveFiles(
      this.#tls.liveDir,
      new Set(files.certs.map((cert) => cert.path)),
    );
    this.#prunedFor = files.key;
  }

  /** The next {@link CertWriter.write} writes every file again. */
  forget(): void {
    this.#written = "";
  }
}

/** The pool of the installed configuration and host maps, for a `-1` run to keep. */
export async function installedPool(
  configFile: string,
  files: Partial<MapFiles> | undefined,
): Promise<PoolAssignment> {
  const installed = await readOrNull(configFile);
  if (installed === null) return EMPTY_POOL;
  const { http, https, redirect } = files ?? {};
  const maps = [];
  for (const file of [http, https, redirect]) {
    if (file !== undefined) {
      maps.push(parseMapText(await readOrNull(file) ?? ""));
    }
  }
  return seedPool(installed, maps);
}
