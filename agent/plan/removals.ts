// What an apply removes: leftovers of older Typhoon layouts (migrated into the backup, then
// removed, each reported), and files a previous apply installed that the new bundle no
// longer has (a switch from flannel to cilium leaves no stale manifests behind).

import * as path from "node:path";
import { listIfExists } from "../fsio/read-only.ts";
import type { HostRoot } from "../hostfs/host-root.ts";
import { STATIC_POD_DIRECTORY } from "../paths.ts";
import { managedDirectoryOf } from "../placement/policy.ts";
import type { InstallRecord } from "./install-record.ts";

export interface RemovalCandidate {
  /** Absolute host path. */
  path: string;
  why: string;
  /** A leftover of an older layout (reported as migrated) rather than a file no longer in the bundle. */
  legacy: boolean;
}

const LEGACY_PATHS: ReadonlyArray<{ path: string; why: string }> = [
  { path: "/etc/kubernetes/bootstrap-secrets", why: "2019 layout: the control-plane secrets now live in /etc/kubernetes/pki" },
  { path: "/etc/kubernetes/secrets", why: "bootkube layout: superseded by /etc/kubernetes/pki" },
  { path: "/etc/kubernetes/checkpoint-secrets", why: "pod-checkpointer leftover: the control plane runs as static pods" },
  { path: "/etc/kubernetes/inactive-manifests", why: "pod-checkpointer leftover: the control plane runs as static pods" },
];

const LEGACY_PATTERNS: ReadonlyArray<{ directory: string; matches: (name: string) => boolean; why: string }> = [
  { directory: STATIC_POD_DIRECTORY, matches: (name) => name.includes("checkpoint"), why: "pod-checkpointer manifest: would run beside the static control plane" },
  { directory: "/opt/bootstrap", matches: (name) => name.includes("bootkube"), why: "bootkube leftover: bootstrapping is bootstrap.service now" },
];

export function legacyLeftovers(host: HostRoot): RemovalCandidate[] {
  const found: RemovalCandidate[] = LEGACY_PATHS.map(({ path: legacyPath, why }) => ({ path: legacyPath, why, legacy: true }));
  for (const pattern of LEGACY_PATTERNS) {
    // Only a directory that is not there holds nothing to migrate: one that cannot be reached
    // (a link where a managed directory belongs, EACCES) or listed (EIO) stops the apply.
    for (const name of listIfExists(host.directory(pattern.directory), pattern.directory).sort()) {
      if (pattern.matches(name)) found.push({ path: path.posix.join(pattern.directory, name), why: pattern.why, legacy: true });
    }
  }
  return found;
}

/**
 * Installed by the last apply, no longer wanted now. Only files inside the managed
 * directories: the record is trusted to name what the agent put there, nothing more.
 */
export function staleFiles(installed: InstallRecord | undefined, wanted: ReadonlySet<string>): RemovalCandidate[] {
  return (installed?.files ?? [])
    .filter((file) => !wanted.has(file) && managedDirectoryOf(file) !== undefined)
    .map((file) => ({ path: file, why: "installed by an earlier apply, no longer in the bundle", legacy: false }));
}
