// Who reads which control-plane secret, derived from the static pods themselves rather
// than hard-coded: the pods run as a non-root runAsUser (65534 in Typhoon), so every
// /etc/kubernetes/pki file a pod references must be readable by that uid, and no other
// secret should be.

import * as path from "node:path";
import { load } from "js-yaml";
import { BundleError } from "../errors.ts";
import type { Owner } from "../fsio/ownership.ts";
import { isObject, type JsonObject as Json } from "../json.ts";
import { PKI_DIRECTORY } from "../paths.ts";
import { isPublicMaterial } from "./policy.ts";

/** A pki file named anywhere in a string (PKI_DIRECTORY holds no regular-expression syntax). */
const PKI_FILE_REFERENCE = new RegExp(`${PKI_DIRECTORY}/[A-Za-z0-9._/-]+`, "g");

interface StaticPodSource {
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

interface Container {
  name: string;
  uid: number;
  gid: number;
  strings: string[];
  volumeNames: string[];
}

/** Parses every static pod (exit 65 naming the asset when one is not a v1 Pod). */
export function analyzeStaticPods(manifests: readonly StaticPodSource[]): StaticPodAnalysis {
  const readers = new Map<string, PkiReader>();
  const references = new Map<string, string[]>();
  const note = (file: string, asset: string, uid: number, gid: number): void => {
    const pods = references.get(file) ?? [];
    if (!pods.includes(asset)) pods.push(asset);
    references.set(file, pods);
    if (uid === 0 || isPublicMaterial(file)) return; // root reads every file anyway; everyone reads these
    const reader = readers.get(file);
    if (reader === undefined) {
      readers.set(file, { uid, gid, pods: [asset] });
    } else if (reader.uid !== uid) {
      throw new BundleError(
        `${file} is read by ${reader.pods.join(", ")} as uid ${reader.uid} and by ${asset} as uid ${uid}; a 0400 secret has one reader`,
        undefined,
        "run the static pods that share a secret as the same runAsUser",
      );
    } else if (!reader.pods.includes(asset)) {
      reader.pods.push(asset);
    }
  };

  for (const manifest of manifests) {
    const pod = parsePod(manifest);
    const fileVolumes = singleFileHostPaths(pod, manifest.asset);
    for (const container of containersOf(pod, manifest.asset)) {
      for (const text of container.strings) {
        for (const match of text.matchAll(PKI_FILE_REFERENCE)) {
          const file = path.posix.normalize(match[0]);
          if (file.startsWith(`${PKI_DIRECTORY}/`)) note(file, manifest.asset, container.uid, container.gid);
        }
      }
      for (const volume of container.volumeNames) {
        const file = fileVolumes.get(volume);
        if (file !== undefined) note(file, manifest.asset, container.uid, container.gid);
      }
    }
  }
  return { readers, references };
}

function parsePod(manifest: StaticPodSource): Json {
  const invalid = (reason: string): BundleError =>
    new BundleError(`${manifest.asset} is not a valid v1 Pod: ${reason}`, undefined, "static-manifests/ holds one Pod object per file");
  let document: unknown;
  try {
    document = load(Buffer.from(manifest.content).toString("utf8"), { filename: manifest.asset });
  } catch (error) {
    const mark = (error as { mark?: { line?: number } }).mark;
    throw invalid(`YAML error${mark?.line === undefined ? "" : ` at line ${mark.line + 1}`}: ${(error as { reason?: string }).reason ?? String(error)}`);
  }
  if (!isObject(document)) throw invalid("not a YAML mapping");
  if (document.apiVersion !== "v1" || document.kind !== "Pod") {
    throw invalid(`apiVersion/kind is ${String(document.apiVersion)}/${String(document.kind)}, expected v1/Pod`);
  }
  const spec = document.spec;
  if (!isObject(spec) || !Array.isArray(spec.containers) || spec.containers.length === 0) {
    throw invalid("spec.containers is missing or empty");
  }
  return document;
}

/** Volumes whose hostPath is one file inside the pki directory (the directory itself grants only traversal). */
function singleFileHostPaths(pod: Json, asset: string): Map<string, string> {
  const files = new Map<string, string>();
  const volumes = (pod.spec as Json).volumes;
  if (volumes === undefined) return files;
  if (!Array.isArray(volumes)) throw new BundleError(`${asset} is not a valid v1 Pod: spec.volumes is not a list`);
  for (const volume of volumes) {
    if (!isObject(volume) || !isObject(volume.hostPath) || typeof volume.hostPath.path !== "string") continue;
    const hostPath = path.posix.normalize(volume.hostPath.path);
    if (hostPath.startsWith(`${PKI_DIRECTORY}/`) && typeof volume.name === "string") files.set(volume.name, hostPath);
  }
  return files;
}

function containersOf(pod: Json, asset: string): Container[] {
  const spec = pod.spec as Json;
  const podContext = isObject(spec.securityContext) ? spec.securityContext : {};
  const all = [...(spec.containers as unknown[]), ...(Array.isArray(spec.initContainers) ? spec.initContainers : [])];
  return all.map((entry, index) => {
    if (!isObject(entry) || typeof entry.name !== "string") {
      throw new BundleError(`${asset} is not a valid v1 Pod: container ${index + 1} has no name`);
    }
    const context = isObject(entry.securityContext) ? entry.securityContext : {};
    const identity = (field: "runAsUser" | "runAsGroup"): number => {
      const value = context[field] ?? podContext[field] ?? 0;
      if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
        throw new BundleError(`${asset} is not a valid v1 Pod: ${entry.name}: securityContext.${field} must be a non-negative integer`);
      }
      return value;
    };
    const strings = [...stringList(entry.command), ...stringList(entry.args)];
    if (Array.isArray(entry.env)) {
      for (const variable of entry.env) if (isObject(variable) && typeof variable.value === "string") strings.push(variable.value);
    }
    const volumeNames = Array.isArray(entry.volumeMounts)
      ? entry.volumeMounts.flatMap((mount) => (isObject(mount) && typeof mount.name === "string" ? [mount.name] : []))
      : [];
    return { name: entry.name, uid: identity("runAsUser"), gid: identity("runAsGroup"), strings, volumeNames };
  });
}

function stringList(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === "string") : [];
}
