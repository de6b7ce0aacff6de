/**
 * Turns checked HAProxy settings into a ready {@link Balancer},
 * checking at start-up what would otherwise fail at the first event: the
 * template compiles, HAProxy runs, the configuration directory is writable,
 * the certificate directory is there.
 *
 * @module
 */

import { errorMessage } from "../util/error_message.ts";
import type { Telemetry } from "../metrics/telemetry.ts";
import type { ContainerSource } from "../docker/container.ts";
import { Balancer } from "./loop.ts";
import { ManagedHAProxy } from "./io/process.ts";
import { haproxyLogTarget } from "./access_log.ts";
import { readErrorPages } from "./error_pages.ts";
import {
  DEFAULT_TEMPLATE_DIRS,
  DEFAULT_TEMPLATE_FILE,
} from "./render/builtin_templates.ts";
import { readRc } from "./io/rc.ts";
import { type MapFiles, Renderer } from "./render/render.ts";
import { resolveTemplateDirs } from "./render/template_dirs.ts";
import { CertDirectory } from "../tls/cert_dir.ts";
import { selfSignedDefault, type TlsFiles } from "./model/tls.ts";
import { dirname, readOrNull } from "../util/files.ts";
import type { AcmeManager } from "../acme/manager.ts";
import { ChallengeMap } from "../acme/challenges.ts";
import {
  type CheckedSettings,
  HAPROXY_DEFAULTS,
  masterSocketFor,
} from "./settings.ts";
import { SettingsError } from "../util/settings_error.ts";

/**
 * Checks that `bin` runs; returns whether it was built with Lua (the
 * actions that hold requests for containers just started need it).
 */
async function checkHaproxy(bin: string): Promise<{ lua: boolean }> {
  try {
    const out = await new Deno.Command(bin, {
      args: ["-vv"],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).output();
    if (!out.success) {
      throw new SettingsError(
        `HAProxy "${bin}" -vv exited with status ${out.code}`,
      );
    }
    return {
      lua: /^Built with Lua/m.test(new TextDecoder().decode(out.stdout)),
    };
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new SettingsError(
        `HAProxy not found: "${bin}" is not an executable on PATH (install haproxy or set --haproxy-bin)`,
      );
    }
    throw error;
  }
}

/** The map files, without those that need Lua when HAProxy has none. */
function withLua(
  maps: Partial<MapFiles>,
  haproxy: { lua: boolean },
): Partial<MapFiles> {
  if (haproxy.lua) return maps;
  const { fresh: _fresh, lua: _lua, auth: _auth, ...rest } = maps;
  return rest;
}

async function checkWritable(configFile: string): Promise<void> {
  const dir = dirname(configFile);
  try {
    const probe = await Deno.makeTempFile({
      dir,
      prefix: ".docker-glue-probe-",
    });
    await Deno.remove(probe);
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) throw error;
    throw new SettingsError(
      `Config directory ${dir} is not writable: ${errorMessage(error)}`,
    );
  }
}

/**
 * Compiles the template, reads the rc file and, unless this is a dry run,
 * checks that HAProxy runs and the config directory is writable.
 *
 * @throws {SettingsError} naming the setting at fault.
 * @throws {TemplateError} when the template is missing or broken.
 */
export async function createBalancer(
  checked: CheckedSettings,
  source: ContainerSource,
  telemetry?: Telemetry,
): Promise<Balancer> {
  const { given: settings, reloadCmd, statsSocket, httpsBind } = checked;
  let maps = checked.maps;
  const https = httpsBind.length > 0;
  const acme = settings.acme;
  const { configFile } = settings;
  // States are saved through the admin socket, so there is no state file without one.
  const stateFile = statsSocket === "" ? "" : `${configFile}.state`;
  const crtList = `${configFile}.crt-list`;
  let checkArgs: string[] = [];
  if (settings.diff) {
    // The preview is checked with haproxy -c, as an install would be.
    checkArgs = (await readRc(settings.rc)).args;
    maps = withLua(maps, await checkHaproxy(settings.haproxyBin));
  } else if (!settings.dryRun) {
    const rc = await readRc(settings.rc);
    checkArgs = rc.args;
    maps = withLua(maps, await checkHaproxy(settings.haproxyBin));
    await checkWritable(settings.configFile);
  }
  const renderer = await rendererFor({ ...checked, maps }, stateFile, crtList);
  // Called only once the engine below exists.
  const schedule = () => balancer.schedule();
  const certs = https
    ? await certificates(settings, crtList, schedule)
    : undefined;
  const tls = certs?.tls;
  const directory = certs?.directory;
  let challenges: ChallengeMap | undefined;
  let manager: AcmeManager | undefined;
  if (acme !== undefined && directory !== undefined && maps.acme) {
    challenges = new ChallengeMap(maps.acme);
    // Loaded only when ACME is on: the client and its dependencies cost
    // about 10 MB of memory.
    const { AcmeManager } = await import("../acme/manager.ts");
    manager = new AcmeManager(acme, directory, challenges, schedule);
  }
  const balancer = new Balancer({
    routes: checked.routes,
    renderer,
    apply: {
      configFile,
      haproxyBin: settings.haproxyBin,
      checkArgs,
      reloadCmd,
      ...(settings.checkTimeoutMs === undefined
        ? {}
        : { timeoutMs: settings.checkTimeoutMs }),
    },
    dryRun: settings.dryRun,
    preview: settings.diff === true,
    ...(telemetry === undefined ? {} : { telemetry }),
    once: settings.once === true,
    debounce: settings.debounce,
    maps,
    ...(tls === undefined ? {} : { tls }),
    ...(challenges === undefined ? {} : { challenges }),
    ...(manager === undefined ? {} : { acme: manager }),
    ...(statsSocket === "" ? {} : { adminSocket: statsSocket, stateFile }),
    ...(settings.mode === "managed" && !settings.dryRun
      ? { managed: managedHAProxy(settings, checkArgs, statsSocket) }
      : {}),
  }, source);
  challenges?.attach(balancer);
  if (!settings.dryRun && !settings.once) directory?.watch();
  return balancer;
}

/** The HAProxy docker-balancer runs itself, and passes the access log of. */
function managedHAProxy(
  settings: CheckedSettings["given"],
  checkArgs: string[],
  statsSocket: string,
): ManagedHAProxy {
  const accessLog = settings.accessLog;
  return new ManagedHAProxy({
    haproxyBin: settings.haproxyBin,
    configFile: settings.configFile,
    masterSocket: masterSocketFor(settings),
    extraArgs: checkArgs,
    sockets: statsSocket === "" ? [] : [statsSocket],
    // A syslog address HAProxy reaches itself.
    ...(accessLog === undefined || accessLog.kind === "syslog"
      ? {}
      : { accessLog }),
  });
}

/**
 * The secret HAProxy derives sticky-session cookies from, so a cookie does
 * not tell a client the server's address. It lives in the configuration
 * itself: the one the running file has, so cookies survive restarts, else
 * a new random one.
 */
async function cookieKey(configFile: string): Promise<string> {
  const running = await readOrNull(configFile).catch(() => null);
  const kept = /^\s*dynamic-cookie-key ([0-9a-f]{32})$/m.exec(running ?? "")
    ?.[1];
  if (kept !== undefined) return kept;
  return [...crypto.getRandomValues(new Uint8Array(16))].map((b) =>
    b.toString(16).padStart(2, "0")
  ).join("");
}

/** The template renderer with the listeners the settings give. */
async function rendererFor(
  checked: CheckedSettings,
  stateFile: string,
  crtList: string,
): Promise<Renderer> {
  const {
    given: settings,
    httpBind,
    statsBind,
    tcpBindAddress,
    statsSocket,
    httpsBind,
    maps,
  } = checked;
  const { configFile } = settings;
  return new Renderer(
    {
      dirs: resolveTemplateDirs(settings.templateDir, DEFAULT_TEMPLATE_DIRS),
      file: settings.templateFile || DEFAULT_TEMPLATE_FILE,
    },
    {
      httpBind,
      ...(settings.perPortFrontends ? { perPortFrontends: true } : {}),
      statsBind: statsBind[0] ?? "",
      tcpBindAddress,
      statsSocket,
      stateFile,
      maps,
      httpsBind,
      crtList,
      cookieKey: await cookieKey(configFile),
      httpsSocket: `${configFile}.https.sock`,
      backendCaFile: checked.backendCaFile,
      hardStopAfter: settings.hardStopAfter ?? HAPROXY_DEFAULTS.hardStopAfter,
      trustedProxies: settings.trustedProxies ?? [],
      proxyProtocol: settings.proxyProtocol === true,
      ...(settings.accessLog === undefined
        ? {}
        : { accessLog: haproxyLogTarget(settings.accessLog) }),
      ...(settings.errorPages === undefined
        ? {}
        : { errorPages: await readErrorPages(settings.errorPages) }),
      // A managed HAProxy runs in the foreground: it writes its warnings and
      // alerts (servers going up and down) to standard error, which goes to
      // our log, so no syslog is needed. Its log then carries emergencies
      // only, or every server change would be said twice.
      logTarget: settings.mode === "managed"
        ? "stderr format short local0 emerg"
        : "",
    },
  );
}

/**
 * The certificate directory, read once, and the files HAProxy's HTTPS
 * listener reads.
 *
 * @throws {SettingsError} when the directory cannot be made or read.
 */
async function certificates(
  settings: CheckedSettings["given"],
  crtList: string,
  schedule: () => void,
): Promise<{ tls: TlsFiles; directory: CertDirectory }> {
  const { configFile } = settings;
  const dir = settings.tlsCertDir || HAPROXY_DEFAULTS.tlsCertDir;
  const directory = new CertDirectory(dir, schedule);
  if (!settings.dryRun) {
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 }).catch(
      (error) => {
        if (error instanceof Deno.errors.NotCapable) throw error;
        throw new SettingsError(
          `Cannot create the certificate directory ${dir}: ${
            errorMessage(error)
          }`,
        );
      },
    );
  }
  try {
    await directory.scan();
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) throw error;
    if (!(error instanceof Deno.errors.NotFound) || !settings.dryRun) {
      throw new SettingsError(
        `Cannot read the certificate directory ${dir}: ${errorMessage(error)}`,
      );
    }
  }
  const liveDir = `${configFile}.certs`;
  const tls = {
    crtList,
    liveDir,
    source: directory,
    // Also with the operator's default.pem, which may go away later.
    fallback: await selfSignedDefault(
      liveDir,
      new Date(),
      directory.defaultCert === undefined,
    ),
  };
  return { tls, directory };
}
