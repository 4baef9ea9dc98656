// Who reads which control-plane secret, derived from the static pods themselves rather
// than hard-coded, the way the kubelet will run them (pod-spec.ts): every path a container
// is handed is followed through its mounts to the host, and each /etc/kubernetes/pki secret
// it reaches must be readable by the uid that container runs as, and by no other uid.

import * as path from "node:path";
import { BundleError } from "../errors.ts";
import { RUN_TIME_VALUE } from "./expansion.ts";
import { parseManifest } from "./manifest-yaml.ts";
import type { Owner } from "../fsio/ownership.ts";
import { isObject, yamlProblem } from "../json.ts";
import { PKI_DIRECTORY } from "../paths.ts";
import { hostPathIn, invalidPod, podContainers, type ContainerView } from "./pod-spec.ts";
import { isPublicMaterial } from "./policy.ts";

export interface StaticPodSource {
  asset: string;
  content: Uint8Array;
}

interface PkiReader extends Owner {
  /** The pods (by asset) whose containers read the file. */
  pods: string[];
}

export interface StaticPodAnalysis {
  /** Host path of each referenced pki secret → the one non-root identity that must read it. */
  readers: Map<string, PkiReader>;
  /** Host path of every referenced pki file (any uid) → the pods referencing it. */
  references: Map<string, string[]>;
}

/**
 * An absolute path inside a string a container is handed: it starts the string or follows a
 * separator of command-line syntax (`--flag=/p`, `a,/p`, `host:/p`, a space), and a `//`
 * (a URL's authority) is not one. A run-time value is a path character: see expansion.ts.
 */
const CONTAINER_PATH = new RegExp(`(?<=^|[\\s=,:;"'\`(\\[{<>|&])/(?!/)[A-Za-z0-9._@%+~/${RUN_TIME_VALUE}-]*`, "g");

const UNKNOWN_UID_HINT =
  "add securityContext.runAsUser (the uid its image runs as; Typhoon's pods use 65534) to the pod's spec or to the container: the agent gives each secret to the uid that reads it, and guessing root would leave a non-root image unable to read its key";

/** Parses every static pod (exit 65 naming the asset when one is not a v1 Pod). */
export function analyzeStaticPods(manifests: readonly StaticPodSource[]): StaticPodAnalysis {
  const readers = new Map<string, PkiReader>();
  const references = new Map<string, string[]>();
  for (const manifest of manifests) {
    for (const container of podContainers(parsePod(manifest), manifest.asset)) {
      for (const file of pkiFilesRead(container, manifest.asset)) {
        const pods = references.get(file) ?? [];
        if (!pods.includes(manifest.asset)) pods.push(manifest.asset);
        references.set(file, pods);
        if (!isPublicMaterial(file)) noteSecretReader(readers, file, manifest.asset, container);
      }
    }
  }
  return { readers, references };
}

/** The pki files a container reaches: named in a string it is handed, or mounted as one file. */
function pkiFilesRead(container: ContainerView, asset: string): Set<string> {
  const files = new Set<string>();
  const consider = (hostPath: string | undefined): void => {
    if (hostPath !== undefined && hostPath.startsWith(`${PKI_DIRECTORY}/`)) files.add(hostPath); // the directory itself grants only traversal
  };
  for (const mount of container.mounts) {
    if (!mount.subPathUnknown) consider(mount.hostPath);
    else if (mount.hostPath !== undefined && overlapsPki(mount.hostPath)) refuseUnknownSubPath(asset, container, mount.mountPath);
  }
  for (const text of container.strings) {
    for (const match of text.matchAll(CONTAINER_PATH)) {
      if (match[0].includes(RUN_TIME_VALUE)) continue; // names a file only the running pod knows
      consider(hostPathIn(container, path.posix.normalize(match[0])));
    }
  }
  return files;
}

function noteSecretReader(readers: Map<string, PkiReader>, file: string, asset: string, container: ContainerView): void {
  if (container.uid === undefined) {
    throw new BundleError(
      `${asset}: pod ${container.pod}, container ${container.name} reads ${file}, but neither the pod nor the container sets securityContext.runAsUser, so nobody can tell which uid must own it`,
      undefined,
      UNKNOWN_UID_HINT,
    );
  }
  if (container.uid === 0) return; // root reads every file anyway
  const reader = readers.get(file);
  if (reader === undefined) {
    readers.set(file, { uid: container.uid, gid: container.gid, pods: [asset] });
  } else if (reader.uid !== container.uid) {
    throw new BundleError(
      `${file} is read by ${reader.pods.join(", ")} as uid ${reader.uid} and by ${asset} as uid ${container.uid}; a 0400 secret has one reader`,
      undefined,
      "run the static pods that share a secret as the same runAsUser",
    );
  } else if (!reader.pods.includes(asset)) {
    reader.pods.push(asset);
  }
}

/** The pki directory, a file in it, or a directory above it. */
function overlapsPki(hostPath: string): boolean {
  return hostPath === PKI_DIRECTORY || hostPath.startsWith(`${PKI_DIRECTORY}/`) || PKI_DIRECTORY.startsWith(`${hostPath === "/" ? "" : hostPath}/`);
}

function refuseUnknownSubPath(asset: string, container: ContainerView, where: string): never {
  throw new BundleError(
    `${asset}: pod ${container.pod}, container ${container.name}: the subPathExpr of the mount at ${where} uses a value only the running pod knows (env valueFrom), so nobody can tell which host files it reaches`,
    undefined,
    "use subPath, or a subPathExpr over env values written in the manifest",
  );
}

function parsePod(manifest: StaticPodSource): Record<string, unknown> {
  let document: unknown;
  try {
    document = parseManifest(Buffer.from(manifest.content).toString("utf8"), manifest.asset);
  } catch (error) {
    throw invalidPod(manifest.asset, `YAML error: ${yamlProblem(error)}`);
  }
  if (!isObject(document)) throw invalidPod(manifest.asset, "not a YAML mapping");
  if (document.apiVersion !== "v1" || document.kind !== "Pod") {
    throw invalidPod(manifest.asset, `apiVersion/kind is ${String(document.apiVersion)}/${String(document.kind)}, expected v1/Pod`);
  }
  const spec = document.spec;
  if (!isObject(spec) || !Array.isArray(spec.containers) || spec.containers.length === 0) {
    throw invalidPod(manifest.asset, "spec.containers is missing or empty");
  }
  return document;
}
