// The placement policy (docs/design.md, "Placement") as one declarative table, like
// kubeadm's list of certificates: where each bundle asset is installed, which directories
// the agent owns, and who may read what. `apply` installs from it and `verify` checks
// against it; neither has a copy of these rules.

import { ROOT, type Owner, type Ownership } from "../fsio/ownership.ts";
import { BOOTSTRAP_ASSETS_DIRECTORY, ETCD_CERTIFICATE_DIRECTORY, ETCD_TLS_DIRECTORY, PKI_DIRECTORY, STATE_DIRECTORY, STATIC_POD_DIRECTORY } from "../paths.ts";

/**
 * - etcd: etcd's own TLS; owned by the etcd user, nobody else can enter the directory.
 * - pki: control-plane TLS and kubeconfigs; each secret readable only by the pod that uses it.
 * - private: root-only files (the kubelet and bootstrap.service run as root).
 */
type AccessClass = "etcd" | "pki" | "private";

interface PlacementRule {
  /** Asset name patterns: `*` matches within one path segment, `**` any number of segments. */
  assets: readonly string[];
  directory: string;
  /** flat: the file name under `directory`; path: the whole asset path under it. */
  layout: "flat" | "path";
  access: AccessClass;
  why: string;
}

const PLACEMENT_RULES: readonly PlacementRule[] = [
  {
    assets: ["tls/etcd/server*", "tls/etcd/peer*"],
    directory: ETCD_CERTIFICATE_DIRECTORY,
    layout: "flat",
    access: "etcd",
    why: "etcd serves and peers with these; etcd-member mounts /etc/ssl/etcd",
  },
  {
    assets: ["tls/etcd/etcd-client*", "tls/k8s/*", "auth/*"],
    directory: PKI_DIRECTORY,
    layout: "flat",
    access: "pki",
    why: "the static control-plane pods mount /etc/kubernetes/pki",
  },
  {
    assets: ["static-manifests/*.yaml"],
    directory: STATIC_POD_DIRECTORY,
    layout: "flat",
    access: "private",
    why: "the kubelet runs every Pod in its staticPodPath",
  },
  {
    assets: ["manifests/**", "manifests-networking/**"],
    directory: BOOTSTRAP_ASSETS_DIRECTORY,
    layout: "path",
    access: "private",
    why: "bootstrap.service applies them once with kubectl; the bootstrap token is a secret",
  },
];

interface ManagedDirectory {
  path: string;
  owner: "root" | "etcd";
  mode: number;
}

/** Directories the agent creates and whose owner and mode it enforces. */
export const MANAGED_DIRECTORIES: readonly ManagedDirectory[] = [
  { path: ETCD_TLS_DIRECTORY, owner: "etcd", mode: 0o700 },
  { path: ETCD_CERTIFICATE_DIRECTORY, owner: "etcd", mode: 0o700 },
  { path: PKI_DIRECTORY, owner: "root", mode: 0o755 },
  { path: STATIC_POD_DIRECTORY, owner: "root", mode: 0o700 },
  { path: BOOTSTRAP_ASSETS_DIRECTORY, owner: "root", mode: 0o700 },
  // The agent's own state: install record, transaction record, backups (which hold keys).
  { path: STATE_DIRECTORY, owner: "root", mode: 0o700 },
];

/** Mode of directories the agent creates below a managed directory (/opt/bootstrap/assets/manifests/...). */
export const NESTED_DIRECTORY_MODE = 0o700;

/**
 * How many leading components of `hostPath` are system directories, which may be symlinks
 * (resolved inside the root; /opt on Fedora CoreOS is a link to var/opt): those above the
 * outermost managed directory the path is or lies in, and all of them outside the managed
 * directories. A managed directory and everything below it is never a link.
 */
export function systemComponentCount(hostPath: string): number {
  const depths = MANAGED_DIRECTORIES.filter((directory) => hostPath === directory.path || hostPath.startsWith(`${directory.path}/`)).map(
    (directory) => directory.path.split("/").length - 2,
  );
  return depths.length === 0 ? Number.POSITIVE_INFINITY : Math.min(...depths);
}

export interface Placement {
  asset: string;
  /** Absolute host path the asset is installed as. */
  path: string;
  rule: PlacementRule;
}

const COMPILED_RULES = PLACEMENT_RULES.map((rule) => ({ rule, patterns: rule.assets.map(compilePattern) }));

export function placeAsset(asset: string): Placement | undefined {
  for (const { rule, patterns } of COMPILED_RULES) {
    if (!patterns.some((pattern) => pattern.test(asset))) continue;
    const relative = rule.layout === "flat" ? asset.slice(asset.lastIndexOf("/") + 1) : asset;
    return { asset, path: `${rule.directory}/${relative}`, rule };
  }
  return undefined;
}

/** The rule an installed host path was placed by, from the path alone: verify reads the host, not a bundle. */
export function ruleOfInstalledPath(hostPath: string): PlacementRule | undefined {
  const parent = hostPath.slice(0, hostPath.lastIndexOf("/"));
  return PLACEMENT_RULES.find((rule) => (rule.layout === "flat" ? parent === rule.directory : hostPath.startsWith(`${rule.directory}/`)));
}

/** The managed directory a host path lies in, if any. */
export function managedDirectoryOf(hostPath: string): ManagedDirectory | undefined {
  let best: ManagedDirectory | undefined;
  for (const directory of MANAGED_DIRECTORIES) {
    if (hostPath.startsWith(`${directory.path}/`) && (best === undefined || directory.path.length > best.path.length)) best = directory;
  }
  return best;
}

export interface FileAccess extends Ownership {
  /** Never printed, logged or diffed; kept from group and others. */
  secret: boolean;
}

export interface Identities {
  etcd: Owner;
}

/** Certificates and public keys: world-readable, so any number of pods may share one. */
export const isPublicMaterial = (name: string): boolean => name.endsWith(".crt") || name.endsWith(".pub");

/**
 * Owner and mode of an installed file: the least-privilege rule (docs/design.md, "Placement").
 * `readers` comes from the static pods (analyzeStaticPods): the one identity that reads each pki secret.
 */
export function fileAccess(placement: Pick<Placement, "path" | "rule">, readers: ReadonlyMap<string, Owner>, identities: Identities): FileAccess {
  const name = placement.path.slice(placement.path.lastIndexOf("/") + 1);
  switch (placement.rule.access) {
    case "etcd": {
      const { uid, gid } = identities.etcd;
      return name.endsWith(".crt") ? { uid, gid, mode: 0o444, secret: false } : { uid, gid, mode: 0o400, secret: true };
    }
    case "pki": {
      if (isPublicMaterial(name)) return { ...ROOT, mode: 0o644, secret: false };
      const reader = readers.get(placement.path);
      return reader === undefined ? { ...ROOT, mode: 0o600, secret: true } : { uid: reader.uid, gid: reader.gid, mode: 0o400, secret: true };
    }
    case "private":
      return { ...ROOT, mode: 0o600, secret: false };
  }
}

/**
 * Secret material wherever it sits: private keys, kubeconfig client keys and tokens, and
 * Kubernetes Secret objects (the bootstrap token). Root-only files are 0600 either way;
 * this decides what plan output marks as secret.
 */
const SECRET_MATERIAL = [/-----BEGIN [A-Z ]*PRIVATE KEY-----/, /^\s*client-key-data:/m, /^\s*token:/m, /^kind:\s*Secret\s*$/m];

export function holdsSecretMaterial(content: Buffer): boolean {
  const text = content.toString("latin1");
  return SECRET_MATERIAL.some((pattern) => pattern.test(text));
}

function compilePattern(pattern: string): RegExp {
  const source = pattern
    .split("/")
    .map((segment) => (segment === "**" ? "[^/]+(?:/[^/]+)*" : segment.split("*").map(escapeRegExp).join("[^/]*")))
    .join("/");
  return new RegExp(`^${source}$`);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
