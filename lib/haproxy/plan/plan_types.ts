/**
 * What the planners say: the runtime operations the admin socket can make,
 * the changes of the files the configuration reads, and the plan.
 *
 * @module
 */

import type { ServerLine } from "../render/config_shape.ts";

/** A change the admin socket can make. */
export type RuntimeOp =
  | {
    readonly op: "add";
    readonly backend: string;
    readonly server: ServerLine;
    /**
     * The backend's cookie key, when it has cookie persistence: setting it
     * again gives the new server its cookie value.
     */
    readonly cookieKey?: string;
  }
  | {
    readonly op: "remove";
    readonly backend: string;
    readonly server: string;
  }
  | {
    readonly op: "weight";
    readonly backend: string;
    readonly server: string;
    readonly weight: number;
  }
  | {
    readonly op: "address";
    readonly backend: string;
    readonly server: string;
    readonly address: string;
    readonly port: number;
  }
  | {
    readonly op: "map";
    /** The map file, as the configuration names it. */
    readonly file: string;
    readonly key: string;
    /** The new value, or null to remove the entry. */
    readonly value: string | null;
    /** Whether the key had an entry before. */
    readonly existed: boolean;
    /** Goes in before any other operation (MapChange.first). */
    readonly first?: boolean;
  }
  | {
    readonly op: "cert-add";
    /** The crt-list the certificate joins. */
    readonly crtList: string;
    /** The certificate's file, as the crt-list names it. */
    readonly file: string;
    /** Certificate chain and key, PEM, with no blank lines. */
    readonly pem: string;
  }
  | {
    readonly op: "cert-remove";
    readonly crtList: string;
    readonly file: string;
  };

/** Map entries: key and value. */
export type HostMap = readonly (readonly [string, string])[];

/** A map file's entries before and after, for the planner. */
export interface MapChange {
  /** The map file, as the configuration names it. */
  readonly file: string;
  /** Entries HAProxy has. */
  readonly before: HostMap;
  /** Entries it should have. */
  readonly after: HostMap;
  /**
   * Its entries go in before any other operation: they only answer requests
   * no route takes (the hosts gone lately: before a host leaves its host
   * map, so no request in between finds neither) or hold requests for
   * servers just added (the fresh backends: before the first request).
   */
  readonly first?: boolean;
}

/** A certificate file HAProxy serves: its path names its content. */
export interface CertFile {
  /** Path, as the crt-list names it. */
  readonly path: string;
  /** Certificate chain and key, PEM. */
  readonly pem: string;
}

/** The certificates of a crt-list before and after, for the planner. */
export interface CertChange {
  /** The crt-list file, as the configuration names it. */
  readonly crtList: string;
  /** Certificates HAProxy has. */
  readonly before: readonly CertFile[];
  /** Certificates it should have. */
  readonly after: readonly CertFile[];
}

/** What changes besides the configuration text. */
export interface CompanionChanges {
  /** Map files. */
  readonly maps?: readonly MapChange[];
  /** The HTTPS frontend's certificates. */
  readonly certs?: CertChange;
}

/** What it takes for HAProxy to run the new configuration. */
export type Plan =
  | { readonly kind: "none" }
  | { readonly kind: "runtime"; readonly ops: readonly RuntimeOp[] }
  | { readonly kind: "reload"; readonly reason: string };
