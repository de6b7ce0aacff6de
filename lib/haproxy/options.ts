/**
 * The HAProxy engine's settings and counters.
 *
 * @module
 */

import type { DebounceTiming } from "../util/debounce.ts";
import type { ApplyOptions } from "./io/apply.ts";
import type { HostMap } from "./plan/plan_types.ts";
import type { Telemetry } from "../metrics/telemetry.ts";
import type { MapFiles, Renderer } from "./render/render.ts";
import type { TlsFiles } from "./model/tls.ts";
import type { HAProxyProcess } from "./io/process.ts";
import type { RuntimeApi } from "./io/runtime.ts";
import type { ApplyOutcome } from "./io/apply.ts";
import type { AcmeManager } from "../acme/manager.ts";
import type { RouteOptions } from "../routing/claims.ts";

/** Everything the engine needs besides the containers. */
export interface BalancerOptions {
  /** Route model options. */
  readonly routes: RouteOptions;
  /** Compiled template. */
  readonly renderer: Renderer;
  /** Where and how to install. */
  readonly apply: ApplyOptions;
  /** Print the configuration instead of installing it. */
  readonly dryRun: boolean;
  /**
   * With `dryRun`: validate the rendering and keep what it would change
   * (the engine's `preview`) instead of printing it.
   */
  readonly preview?: boolean;
  /** Burst coalescing for the engine's `schedule`. */
  readonly debounce: DebounceTiming;
  /** Where the engine reports for metrics; none by default. */
  readonly telemetry?: Telemetry;
  /** Where dry-run output goes; standard output by default. */
  readonly print?: (text: string) => void;
  /**
   * Who runs HAProxy: a managed one (process.ts) started and reloaded by
   * us, or an external one reloaded with `apply.reloadCmd`.
   */
  readonly managed?: HAProxyProcess;
  /** Stands in for the admin socket at `adminSocket` (the benchmarks). */
  readonly runtimeApi?: RuntimeApi;
  /**
   * Stands in for validating and installing the files (the benchmarks):
   * given the configuration and the files it reads, says whether anything
   * changed.
   */
  readonly install?: (
    text: string,
    files: readonly { path: string; text: string }[],
  ) => Promise<ApplyOutcome>;
  /** HAProxy's admin socket, for changes without a reload; absent: reloads only. */
  readonly adminSocket?: string;
  /**
   * The map files the template reads. With `http`, plain host names are
   * routed through host maps to pool backends, so new hosts need no
   * reload; absent: no pool, no maps.
   */
  readonly maps?: Partial<MapFiles>;
  /** The HTTPS frontend's certificates; absent: no HTTPS. */
  readonly tls?: TlsFiles;
  /** ACME HTTP-01 tokens HAProxy answers with (`maps.acme`). */
  readonly challenges?: { entries(): HostMap };
  /** Told the hosts of routes labelled `tls` after every update, to get them certificates. */
  readonly acme?: AcmeManager;
  /** Where server states are saved before a reload (the template's `server-state-file`). */
  readonly stateFile?: string;
  /**
   * A single run (`-1`): a file that already holds the rendering is taken
   * as what HAProxy runs, and nothing is reloaded. Following events, the
   * first apply always makes HAProxy run the file, in case an earlier
   * reload failed.
   */
  readonly once?: boolean;
}

/** Counters an operator or a test can read. */
export interface BalancerStats {
  /** Renders done. */
  renders: number;
  /** Configurations installed. */
  installs: number;
  /** Successful reloads. */
  reloads: number;
  /** Configurations HAProxy rejected. */
  rejections: number;
  /** Changes applied through the runtime API, without a reload. */
  runtimeUpdates: number;
  /** Runtime changes that failed and fell back to a reload. */
  runtimeFallbacks: number;
}
