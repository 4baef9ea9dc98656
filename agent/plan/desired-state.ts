// What the host should look like after the apply, computed in memory from the bundle,
// the rendered units and the placement policy, before anything on disk is touched.

import type { AgentConfig, Runtime } from "../config/types.ts";
import { BundleError } from "../errors.ts";
import { ROOT, type Ownership } from "../fsio/ownership.ts";
import { comparePaths } from "../hostfs/host-root.ts";
import { INSTALL_RECORD, STATIC_POD_DIRECTORY } from "../paths.ts";
import {
  MANAGED_DIRECTORIES,
  NESTED_DIRECTORY_MODE,
  fileAccess,
  holdsSecretMaterial,
  managedDirectoryOf,
  placeAsset,
  type Identities,
} from "../placement/policy.ts";
import { analyzeStaticPods } from "../placement/static-pods.ts";
import { ETCD_TLS_ASSETS } from "../verify/certificates.ts";
import { installRecordContent } from "./install-record.ts";

export interface DesiredFile extends Ownership {
  /** Absolute host path. */
  path: string;
  content: Buffer;
  secret: boolean;
  /** The bundle asset it comes from, or what rendered it ("kubelet.service"). */
  source: string;
  /** The bundle line of the asset's header; absent for a rendered file. */
  line?: number;
}

export interface DesiredDirectory extends Ownership {
  path: string;
  /** Owner and mode are enforced on an existing directory (managed), or only used to create it. */
  enforced: boolean;
}

export interface DesiredState {
  files: DesiredFile[];
  /** Parents before children. */
  directories: DesiredDirectory[];
  /** Assets outside the placement table, skipped because of --allow-unknown. */
  skippedAssets: string[];
}

/** A file rendered by the agent itself (kubelet.service, kubelet.yaml, the install record). */
export interface RenderedFile {
  path: string;
  content: string | Buffer;
  mode: number;
  source: string;
}

interface DesiredInput {
  /** Bundle assets with the bundle line of their header; undefined on a worker. */
  assets: ReadonlyMap<string, { content: Buffer; line: number }> | undefined;
  rendered: readonly RenderedFile[];
  identities: Identities;
  allowUnknown: boolean;
  /** What the install record keeps: the configuration, with the runtime it resolved to. */
  config: AgentConfig;
  runtime: Runtime;
  /** The bundle's SHA-256, named in the install record; undefined on a worker. */
  bundleSha256: string | undefined;
}

export function computeDesiredState(input: DesiredInput): DesiredState {
  const placed = placeAssets(input.assets, input.allowUnknown);
  const staticPods = placed.files.filter((file) => file.placement.rule.directory === STATIC_POD_DIRECTORY);
  const { readers, references } = analyzeStaticPods(staticPods.map((file) => ({ asset: file.placement.asset, content: file.content })));
  if (input.assets !== undefined) refuseIncompleteBundle(placed.files, staticPods.length, references);

  const files: DesiredFile[] = placed.files.map(({ placement, content, line }) => {
    const access = fileAccess(placement, readers, input.identities);
    return { path: placement.path, content, ...access, secret: access.secret || holdsSecretMaterial(content), source: placement.asset, line };
  });
  for (const rendered of input.rendered) {
    files.push({
      path: rendered.path,
      content: Buffer.from(rendered.content),
      ...ROOT,
      mode: rendered.mode,
      secret: false,
      source: rendered.source,
    });
  }
  files.push({
    path: INSTALL_RECORD,
    content: installRecordContent(files.map((file) => file.path), input.config, input.runtime, input.bundleSha256),
    ...ROOT,
    mode: 0o600,
    secret: false,
    source: "install record",
  });
  return { files, directories: directoriesFor(files, input.identities), skippedAssets: placed.skipped };
}

interface PlacedAsset {
  placement: NonNullable<ReturnType<typeof placeAsset>>;
  content: Buffer;
  /** Bundle line of the asset's header. */
  line: number;
}

function placeAssets(assets: DesiredInput["assets"], allowUnknown: boolean): { files: PlacedAsset[]; skipped: string[] } {
  const files: PlacedAsset[] = [];
  const skipped: string[] = [];
  const byPath = new Map<string, { asset: string; line: number }>();
  for (const [asset, { content, line }] of assets ?? []) {
    const placement = placeAsset(asset);
    if (placement === undefined) {
      if (allowUnknown) {
        skipped.push(asset);
        continue;
      }
      throw new BundleError(
        `asset ${JSON.stringify(asset)} has no place in the placement table`,
        line,
        "a newer Terraform module? upgrade the agent, or pass --allow-unknown to skip such assets",
      );
    }
    const clash = byPath.get(placement.path);
    if (clash !== undefined) {
      throw new BundleError(`asset ${JSON.stringify(asset)} would be installed as ${placement.path}, like ${JSON.stringify(clash.asset)} (line ${clash.line})`, line);
    }
    byPath.set(placement.path, { asset, line });
    files.push({ placement, content, line });
  }
  return { files, skipped };
}

const TRUNCATED_HINT = "the bundle was cut short in transfer; copy it again (apply --expect-sha256 catches this before parsing)";
const PEM_BOUNDARY = /^-----(BEGIN|END) [A-Z0-9 ]+-----$/gm;

/**
 * A bundle cut short on a line boundary still parses, and its assets sort tls/ last: what
 * gives it away is a certificate or key without its END line, a static pod that reads a
 * pki file the bundle lacks, or a file of etcd's TLS set missing. Installing it would also
 * remove the files it lacks.
 */
function refuseIncompleteBundle(files: readonly PlacedAsset[], staticPods: number, references: ReadonlyMap<string, string[]>): void {
  if (staticPods === 0) {
    throw new BundleError("the bundle has no static-manifests/*.yaml: a controller runs its control plane from them", undefined, TRUNCATED_HINT);
  }
  const installed = new Set(files.map((file) => file.placement.path));
  for (const [file, pods] of references) {
    if (!installed.has(file)) throw new BundleError(`${file} is read by ${pods.join(", ")}, but the bundle lacks it`, undefined, TRUNCATED_HINT);
  }
  const assets = new Set(files.map((file) => file.placement.asset));
  const etcdMissing = ETCD_TLS_ASSETS.filter((asset) => !assets.has(asset));
  if (etcdMissing.length > 0) throw new BundleError(`etcd needs its whole TLS set, but the bundle lacks ${etcdMissing.join(", ")}`, undefined, TRUNCATED_HINT);
  for (const { placement, content, line } of files) {
    if (placement.rule.access === "private" || !/\.(crt|key|pub)$/.test(placement.asset)) continue;
    const boundaries = [...content.toString("latin1").matchAll(PEM_BOUNDARY)].map((match) => match[1]);
    const paired = boundaries.length > 0 && boundaries.length % 2 === 0 && boundaries.every((kind, index) => kind === (index % 2 === 0 ? "BEGIN" : "END"));
    if (!paired) throw new BundleError(`asset ${placement.asset} is not complete PEM: a BEGIN line without its END line`, line, TRUNCATED_HINT);
  }
}

/** Every directory on the way to every file: managed ones enforced, system ones only created. */
function directoriesFor(files: readonly DesiredFile[], identities: Identities): DesiredDirectory[] {
  const directories = new Map<string, DesiredDirectory>();
  for (const file of files) {
    const parts = file.path.split("/").slice(1, -1);
    for (let depth = 1; depth <= parts.length; depth++) {
      const path = `/${parts.slice(0, depth).join("/")}`;
      if (directories.has(path)) continue;
      directories.set(path, directoryPolicy(path, identities));
    }
  }
  return [...directories.values()].sort((a, b) => a.path.split("/").length - b.path.split("/").length || comparePaths(a.path, b.path));
}

function directoryPolicy(path: string, identities: Identities): DesiredDirectory {
  const managed = MANAGED_DIRECTORIES.find((directory) => directory.path === path);
  if (managed !== undefined) {
    const owner = managed.owner === "etcd" ? identities.etcd : ROOT;
    return { path, ...owner, mode: managed.mode, enforced: true };
  }
  if (managedDirectoryOf(path) !== undefined) {
    return { path, ...ROOT, mode: NESTED_DIRECTORY_MODE, enforced: true };
  }
  return { path, ...ROOT, mode: 0o755, enforced: false };
}
