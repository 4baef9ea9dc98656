// Random static pods whose pki readers are known by construction, for the owner derivation's
// property tests. Each container runs as a known uid (set on the pod, or on the container
// over the pod's) and reaches pki files through one of the ways Kubernetes offers (a mount of
// the directory at any path, through a parent and subPath or subPathExpr, a single-file mount,
// a path in command, args, env, an exec probe or a lifecycle hook, $(VAR) expansion); decoys
// name secrets in ways that reach no pki file (a non-pki hostPath mounted over the pki path,
// an image path, $$ escapes, undefined or run-time variables, an emptyDir shadowing a subdirectory).

import { dump } from "js-yaml";
import type { Random } from "./random.ts";

export const PKI = "/etc/kubernetes/pki";

type Json = Record<string, unknown>;

export interface PodCase {
  asset: string;
  yaml: string;
  /** pki host path → uid, for every secret a non-root container reads. */
  readers: Map<string, number>;
  /** Every pki host path a container reaches (root's reads included). */
  referenced: Set<string>;
  /** How each reach and decoy was built, for a failure message. */
  story: string[];
}

interface Builder {
  volumes: Json[];
  containers: Json[];
  initContainers: Json[];
  story: string[];
  /** Numbers variable names, so no two reaches share one. */
  variables: number;
}

/** One secret per uid and a few more: a file has one owner by construction. */
export function secretOwners(random: Random): Map<string, number> {
  const uids = [65534, 1001, 2000 + random.int(0, 999), 0];
  const owners = new Map<string, number>();
  for (let index = 0; index < random.int(3, 8); index++) owners.set(`${PKI}/secret-${index}.${random.pick(["key", "conf", "token"])}`, random.pick(uids));
  return owners;
}

export function randomPodCase(random: Random, index: number, owners: ReadonlyMap<string, number>): PodCase {
  const builder: Builder = { volumes: [], containers: [], initContainers: [], story: [], variables: 0 };
  const readers = new Map<string, number>();
  const referenced = new Set<string>();
  const podUid = random.chance(0.7) ? random.pick([...new Set(owners.values())]) : undefined;
  const count = random.int(1, 3);
  for (let number = 0; number < count; number++) {
    const uid = podUid !== undefined && random.chance(0.6) ? podUid : random.pick([...new Set(owners.values())]);
    const container: Json = { name: `c${number}`, image: "example/image:1" };
    if (uid !== podUid) container.securityContext = { runAsUser: uid };
    const mine = [...owners].filter(([, owner]) => owner === uid).map(([file]) => file);
    for (const file of mine.filter(() => random.chance(0.6))) {
      reach(random, builder, container, file);
      referenced.add(file);
      if (uid !== 0) readers.set(file, uid);
    }
    for (let decoys = random.int(0, 2); decoys > 0; decoys--) decoy(random, builder, container, random.pick([...owners.keys()]));
    (number > 0 && random.chance(0.3) ? builder.initContainers : builder.containers).push(container);
  }
  if (builder.containers.length === 0) builder.containers.push(builder.initContainers.pop()!);
  const spec: Json = { containers: builder.containers, volumes: builder.volumes };
  if (builder.initContainers.length > 0) spec.initContainers = builder.initContainers;
  if (podUid !== undefined) spec.securityContext = { runAsUser: podUid, runAsNonRoot: podUid !== 0 };
  const pod = { apiVersion: "v1", kind: "Pod", metadata: { name: `pod-${index}`, namespace: "kube-system" }, spec };
  return { asset: `static-manifests/pod-${index}.yaml`, yaml: dump(pod), readers, referenced, story: builder.story };
}

function addVolume(builder: Builder, volume: Json): string {
  const name = `v${builder.volumes.length}`;
  builder.volumes.push({ name, ...volume });
  return name;
}

function mountOn(container: Json, mount: Json): void {
  container.volumeMounts = [...((container.volumeMounts as Json[] | undefined) ?? []), mount];
}

function envOf(container: Json): Json[] {
  container.env ??= [];
  return container.env as Json[];
}

/** A fresh mount path, never inside another of this container's mounts. */
function freshMountPath(random: Random, container: Json): string {
  return `/${random.pick(["secrets", "srv/pki", "var/run/k8s", "opt/x/certs"])}-${((container.volumeMounts as unknown[] | undefined) ?? []).length}`;
}

/** Mounts the pki directory (or the file) into `container` and returns the container path of `file`. */
function mountPki(random: Random, builder: Builder, container: Json, file: string): string {
  const name = file.slice(PKI.length + 1);
  const mountPath = freshMountPath(random, container);
  switch (random.int(0, 5)) {
    case 0:
      mountOn(container, { name: addVolume(builder, { hostPath: { path: PKI } }), mountPath });
      return `${mountPath}/${name}`;
    case 1:
      mountOn(container, { name: addVolume(builder, { hostPath: { path: "/etc/kubernetes" } }), mountPath, subPath: "pki" });
      return `${mountPath}/${name}`;
    case 2:
      mountOn(container, { name: addVolume(builder, { hostPath: { path: "/etc", type: "Directory" } }), mountPath, subPath: "kubernetes/pki", readOnly: true });
      return `${mountPath}/${name}`;
    case 3:
      envOf(container).push({ name: "SUB", value: "pki" });
      mountOn(container, { name: addVolume(builder, { hostPath: { path: "/etc/kubernetes/" } }), mountPath: `${mountPath}/`, subPathExpr: "$(SUB)" });
      return `${mountPath}/${name}`;
    case 4:
      mountOn(container, { name: addVolume(builder, { hostPath: { path: file, type: "File" } }), mountPath: `${mountPath}/${name}` });
      return `${mountPath}/${name}`;
    default:
      mountOn(container, { name: addVolume(builder, { hostPath: { path: PKI } }), mountPath: `${mountPath}/${name}`, subPath: name });
      return `${mountPath}/${name}`;
  }
}

/** Names `file` where the container's processes see it, so it is read. */
function reach(random: Random, builder: Builder, container: Json, file: string): void {
  const where = mountPki(random, builder, container, file);
  const dir = where.slice(0, where.lastIndexOf("/"));
  const base = where.slice(where.lastIndexOf("/") + 1);
  const variable = `DIR_${builder.variables++}`;
  const probe = unusedKey(container, ["livenessProbe", "readinessProbe", "startupProbe"]);
  const hook = unusedKey(container.lifecycle ?? {}, ["postStart", "preStop"]);
  let way = random.int(0, 8);
  if ((way === 5 || way === 6) && probe === undefined) way = 0;
  if (way === 7 && hook === undefined) way = 1;
  builder.story.push(`${String(container.name)} reads ${file} at ${where} (way ${way})`);
  const push = (field: string, value: unknown): void => {
    container[field] = [...((container[field] as unknown[] | undefined) ?? []), value];
  };
  switch (way) {
    case 0:
      return push("command", `--file=${where}`);
    case 1:
      return push("args", where);
    case 2:
      return void envOf(container).push({ name: `E_${builder.variables++}`, value: where });
    case 3:
      envOf(container).push({ name: variable, value: dir });
      return push("args", `--key=$(${variable})/${base}`);
    case 4:
      // an env value built from an earlier one, then used in command
      envOf(container).push({ name: "ROOTDIR", value: dir }, { name: variable, value: `$(ROOTDIR)/${base}` });
      return push("command", `$(${variable})`);
    case 5:
      container[probe!] = { exec: { command: ["cat", where] } };
      return;
    case 6:
      // probes expand against the env's literal values
      envOf(container).push({ name: variable, value: dir });
      container[probe!] = { exec: { command: ["sh", "-c", `test -r $(${variable})/${base}`] } };
      return;
    case 7:
      container.lifecycle = { ...((container.lifecycle as Json | undefined) ?? {}), [hook!]: { exec: { command: ["sh", "-c", `cat ${where} >/dev/null`] } } };
      return;
    default:
      return push("args", `--files=/etc/other.conf,${where}`);
  }
}

/** Names `file` (or a path to it) in a way that reaches no pki file on the host. */
function decoy(random: Random, builder: Builder, container: Json, file: string): void {
  const name = file.slice(PKI.length + 1);
  const args = (container.args ??= []) as string[];
  const way = random.int(0, 7);
  builder.story.push(`${String(container.name)} decoy ${way} for ${file}`);
  const mountPath = freshMountPath(random, container);
  switch (way) {
    case 0: {
      // a non-pki hostPath mounted over the pki path: /etc/kubernetes/pki/x there is /etc/ssl/certs/x
      const mounted = ((container.volumeMounts as Json[] | undefined) ?? []).some((mount) => mount.mountPath === PKI);
      if (!mounted) {
        const over = addVolume(builder, { hostPath: { path: random.pick(["/etc/ssl/certs", "/var/lib/kubelet/pki", "/etc/kubernetes/pki-old"]) } });
        mountOn(container, { name: over, mountPath: PKI });
      }
      args.push(`--x=${file}`);
      return;
    }
    case 1:
      // a path in the image: nothing is mounted there
      args.push(`--y=/opt/image${PKI}/${name}`);
      return;
    case 2:
      mountOn(container, { name: addVolume(builder, { hostPath: { path: PKI } }), mountPath });
      envOf(container).push({ name: `ESCAPED_${builder.variables}`, value: mountPath });
      args.push(`--z=$$(ESCAPED_${builder.variables++})/${name}`);
      return;
    case 3:
      mountOn(container, { name: addVolume(builder, { hostPath: { path: PKI } }), mountPath });
      args.push(`--z=$(UNDEFINED_${random.int(0, 99)})/${name}`);
      return;
    case 4:
      mountOn(container, { name: addVolume(builder, { hostPath: { path: PKI } }), mountPath });
      envOf(container).push({ name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } });
      args.push(`--z=$(POD_IP)/${name}`);
      return;
    case 5:
      mountOn(container, { name: addVolume(builder, { emptyDir: {} }), mountPath });
      args.push(`${mountPath}/${name}`);
      return;
    case 6: {
      // lifecycle hooks run as written: no $(VAR) expansion
      const hook = unusedKey(container.lifecycle ?? {}, ["postStart", "preStop"]);
      mountOn(container, { name: addVolume(builder, { hostPath: { path: PKI } }), mountPath });
      const variable = `HOOKDIR_${builder.variables++}`;
      envOf(container).push({ name: variable, value: mountPath });
      const command = ["sh", "-c", `cat $(${variable})/${name}`];
      if (hook === undefined) args.push(`$$(${variable})/${name}`);
      else container.lifecycle = { ...((container.lifecycle as Json | undefined) ?? {}), [hook]: { exec: { command } } };
      return;
    }
    default:
      // the pki directory itself grants nothing; a path below an emptyDir nested inside the mount is not pki
      mountOn(container, { name: addVolume(builder, { hostPath: { path: PKI } }), mountPath });
      mountOn(container, { name: addVolume(builder, { emptyDir: {} }), mountPath: `${mountPath}/nested` });
      args.push(`--dir=${mountPath}`, `${mountPath}/nested/${name}`);
  }
}

function unusedKey(object: unknown, keys: readonly string[]): string | undefined {
  return keys.find((key) => (object as Json)[key] === undefined);
}
