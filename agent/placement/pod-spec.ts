// A static pod's containers as the kubelet runs them, for the owner derivation: the uid each
// runs as (container securityContext over the pod's), the host path behind each mount
// (hostPath volume, subPath or subPathExpr), and every string its processes are handed:
// command and args and env values after $(VAR) expansion, exec probes (liveness, readiness,
// startup; expanded against the static env), lifecycle postStart and preStop exec commands
// (run as given). Init containers are containers here too.

import * as path from "node:path";
import { BundleError } from "../errors.ts";
import { isObject, type JsonObject as Json } from "../json.ts";
import { expand, RUN_TIME_VALUE, runtimeEnvironment, staticEnvironment, type EnvVar } from "./expansion.ts";

interface Mount {
  /** Normalized absolute path inside the container. */
  mountPath: string;
  /** The host path it shows (hostPath volume plus subPath), or undefined for any other volume. */
  hostPath: string | undefined;
  /** A subPathExpr used a value only the running pod knows: it shows something below hostPath. */
  subPathUnknown: boolean;
}

export interface ContainerView {
  /** The pod's metadata.name, for messages. */
  pod: string;
  name: string;
  /** runAsUser of the container, else of the pod; undefined when neither sets it. */
  uid: number | undefined;
  gid: number;
  /** Deepest mount first, so the first one containing a path is the one the container sees. */
  mounts: Mount[];
  strings: string[];
}

export function podContainers(pod: Json, asset: string): ContainerView[] {
  const spec = pod.spec as Json;
  const podName = isObject(pod.metadata) && typeof pod.metadata.name === "string" ? pod.metadata.name : asset;
  const podContext = isObject(spec.securityContext) ? spec.securityContext : {};
  const volumes = hostPathVolumes(spec, asset);
  const all = [...(spec.containers as unknown[]), ...(Array.isArray(spec.initContainers) ? spec.initContainers : [])];
  return all.map((entry, index) => {
    if (!isObject(entry) || typeof entry.name !== "string") throw invalidPod(asset, `container ${index + 1} has no name`);
    const where = `${asset}: container ${entry.name}`;
    const context = isObject(entry.securityContext) ? entry.securityContext : {};
    const identity = (field: "runAsUser" | "runAsGroup"): number | undefined => {
      const value = context[field] ?? podContext[field];
      if (value === undefined || value === null) return undefined;
      if (typeof value !== "number" || !Number.isInteger(value) || value < 0) throw invalidPod(asset, `${entry.name}: securityContext.${field} must be a non-negative integer`);
      return value;
    };
    const env = envVars(entry.env, where);
    const runtime = runtimeEnvironment(env);
    const atRunTime = (text: string): string => expand(text, (name) => runtime.get(name));
    const probeEnvironment = staticEnvironment(env);
    const strings = [
      ...stringList(entry.command).map(atRunTime),
      ...stringList(entry.args).map(atRunTime),
      ...runtime.values(),
      ...["livenessProbe", "readinessProbe", "startupProbe"].flatMap((probe) => execCommand(entry[probe]).map((text) => expand(text, (name) => probeEnvironment.get(name)))),
      ...["postStart", "preStop"].flatMap((hook) => execCommand(isObject(entry.lifecycle) ? entry.lifecycle[hook] : undefined)),
    ];
    const mounts = volumeMounts(entry.volumeMounts, volumes, runtime, asset, entry.name).sort((a, b) => b.mountPath.length - a.mountPath.length);
    return { pod: podName, name: entry.name, uid: identity("runAsUser"), gid: identity("runAsGroup") ?? 0, mounts, strings };
  });
}

/**
 * The host path a container sees at `containerPath` through the deepest mount containing it;
 * undefined for the image's own files, other volumes, and a subPathExpr known only at run time.
 */
export function hostPathIn(container: ContainerView, containerPath: string): string | undefined {
  for (const mount of container.mounts) {
    const inside = mount.mountPath === "/" || containerPath === mount.mountPath || containerPath.startsWith(`${mount.mountPath}/`);
    if (!inside) continue;
    if (mount.hostPath === undefined || mount.subPathUnknown) return undefined;
    return path.posix.join(mount.hostPath, containerPath.slice(mount.mountPath.length));
  }
  return undefined;
}

/** Volume name → its hostPath (normalized), or undefined for every other kind of volume. */
function hostPathVolumes(spec: Json, asset: string): Map<string, string | undefined> {
  const volumes = new Map<string, string | undefined>();
  if (spec.volumes === undefined || spec.volumes === null) return volumes;
  if (!Array.isArray(spec.volumes)) throw invalidPod(asset, "spec.volumes is not a list");
  for (const volume of spec.volumes) {
    if (!isObject(volume) || typeof volume.name !== "string") throw invalidPod(asset, "a volume in spec.volumes has no name");
    const hostPath = isObject(volume.hostPath) && typeof volume.hostPath.path === "string" ? path.posix.normalize(volume.hostPath.path) : undefined;
    volumes.set(volume.name, hostPath);
  }
  return volumes;
}

function volumeMounts(value: unknown, volumes: Map<string, string | undefined>, env: Map<string, string>, asset: string, container: string): Mount[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw invalidPod(asset, `${container}: volumeMounts is not a list`);
  return value.map((mount): Mount => {
    if (!isObject(mount) || typeof mount.name !== "string" || typeof mount.mountPath !== "string" || !mount.mountPath.startsWith("/")) {
      throw invalidPod(asset, `${container}: every volumeMount needs a name and an absolute mountPath`);
    }
    if (!volumes.has(mount.name)) throw invalidPod(asset, `${container}: volumeMount ${mount.mountPath} names volume ${mount.name}, which spec.volumes lacks`);
    const base = volumes.get(mount.name);
    const mountPath = path.posix.normalize(mount.mountPath).replace(/(.)\/$/, "$1");
    const subPath = typeof mount.subPathExpr === "string" ? expand(mount.subPathExpr, (name) => env.get(name)) : typeof mount.subPath === "string" ? mount.subPath : "";
    if (subPath.startsWith("/") || subPath.split("/").includes("..")) {
      throw invalidPod(asset, `${container}: volumeMount ${mountPath} has subPath ${JSON.stringify(subPath)}; Kubernetes takes only a relative path without ".."`);
    }
    if (base === undefined) return { mountPath, hostPath: undefined, subPathUnknown: false };
    if (subPath.includes(RUN_TIME_VALUE)) return { mountPath, hostPath: base, subPathUnknown: true };
    return { mountPath, hostPath: path.posix.join(base, subPath), subPathUnknown: false };
  });
}

function envVars(value: unknown, where: string): EnvVar[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new BundleError(`${where}: env is not a list`);
  return value.flatMap((variable): EnvVar[] => {
    if (!isObject(variable) || typeof variable.name !== "string") return [];
    if (variable.valueFrom !== undefined && variable.valueFrom !== null) return [{ name: variable.name, value: undefined }];
    return [{ name: variable.name, value: typeof variable.value === "string" ? variable.value : "" }];
  });
}

function execCommand(handler: unknown): string[] {
  return isObject(handler) && isObject(handler.exec) ? stringList(handler.exec.command) : [];
}

function stringList(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === "string") : [];
}


export function invalidPod(asset: string, reason: string): BundleError {
  return new BundleError(`${asset} is not a valid v1 Pod: ${reason}`, undefined, "static-manifests/ holds one Pod object per file");
}
