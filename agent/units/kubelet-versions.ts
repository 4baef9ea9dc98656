// Which kubelet release accepts which of the settings the agent renders. A kubelet decodes
// kubelet.yaml leniently: a field it does not know is dropped without a word (a controller
// would register without its taint), so every field the agent writes has a row here, and a
// release that lacks it gets the field's flag form or a refusal (exit 78, naming the field).
//
// How the field rows were derived. The kubelet's configuration types are published per
// release in the kubernetes/kubelet repository (the staging copy of k8s.io/kubelet; its tag
// v0.N.0 is Kubernetes 1.N). For every tag from v0.17.0 (the oldest) to v0.36.0:
//   git show v0.N.0:config/v1beta1/types.go | grep -oE 'json:"[A-Za-z0-9]+'
// lists the JSON names KubeletConfiguration and its nested types accept; `since` is the
// first minor whose list has the name (17 means 1.17 or older), `until` the last one for a
// removed name (none of v1beta1's fields was removed up to 1.36). The result for every name
// is test/fixtures/kubelet-config-fields.json, which a test compares with this table. The
// same file's comments give FailCgroupV1's default: false in 1.31-1.34, true from 1.35.
// Flag rows: kubernetes/kubernetes is too large to fetch whole here, so they were not extracted
// per tag. Every flag below is registered in cmd/kubelet/app/options/options.go of 1.17, and
// Typhoon's own units for kubelet 1.36 pass each of them but --container-runtime, which 1.27
// removed with dockershim's last remnants (the Kubernetes 1.27 changelog).

import type { Taint } from "../config/labels.ts";

/** A kubelet minor version: 36 for 1.36. */
export type KubeletMinor = number;

interface FieldRow {
  since: KubeletMinor;
  until?: KubeletMinor;
  /** The flag that says the same to a release that lacks the field; none: it has to be refused. */
  flag?: (value: unknown) => string[];
  /** Why `since` is later than the first release whose types have the field. */
  note?: string;
}

/** Every field kubelet.yaml may hold, by its path in the document. */
export const KUBELET_CONFIG_FIELDS: Readonly<Record<string, FieldRow>> = {
  apiVersion: { since: 17 },
  kind: { since: 17 },
  "authentication.anonymous.enabled": { since: 17 },
  "authentication.webhook.enabled": { since: 17 },
  "authentication.x509.clientCAFile": { since: 17 },
  "authorization.mode": { since: 17 },
  cgroupDriver: { since: 17 },
  clusterDNS: { since: 17 },
  clusterDomain: { since: 17 },
  containerRuntimeEndpoint: { since: 27, flag: (value) => [`--container-runtime-endpoint=${String(value)}`] },
  healthzPort: { since: 17 },
  readOnlyPort: { since: 17 },
  // One flag, comma-separated: a repeated --register-with-taints keeps only the last.
  registerWithTaints: { since: 23, flag: (value) => taintFlag(value as Taint[]) },
  resolvConf: { since: 17 },
  rotateCertificates: { since: 17 },
  serializeImagePulls: { since: 17 },
  shutdownGracePeriod: {
    since: 21,
    note: "in the types since 1.20, behind the GracefulNodeShutdown gate, alpha and off there: a 1.20 kubelet refuses the field",
  },
  shutdownGracePeriodCriticalPods: { since: 21, note: "as shutdownGracePeriod" },
  staticPodPath: { since: 17 },
  volumePluginDir: { since: 19 },
};

interface FlagRow {
  since: KubeletMinor;
  until?: KubeletMinor;
}

/** Every flag kubelet.service may pass, by name. */
export const KUBELET_FLAGS: Readonly<Record<string, FlagRow>> = {
  "bootstrap-kubeconfig": { since: 17 },
  "cloud-provider": { since: 17 },
  config: { since: 17 },
  "container-runtime": { since: 17, until: 26 },
  "container-runtime-endpoint": { since: 17 },
  "hostname-override": { since: 17 },
  kubeconfig: { since: 17 },
  "node-labels": { since: 17 },
  "provider-id": { since: 17 },
  "register-with-taints": { since: 17 },
};

/**
 * Before 1.24 the kubelet ran its built-in dockershim unless told `--container-runtime=remote`,
 * and ignored the CRI endpoint it was given; containerd is the only runtime the unit points at.
 */
export const REMOTE_RUNTIME_FLAG_BEFORE: KubeletMinor = 24;

/** FailCgroupV1 defaults to true from this release: the kubelet refuses a cgroup v1 host. */
export const FAILS_ON_CGROUP_V1_SINCE: KubeletMinor = 35;

/** The newest release whose types the table was checked against. */
export const NEWEST_CHECKED_MINOR: KubeletMinor = 36;

/** Fields without a flag form: a release older than any of them cannot be configured. */
export const FIELDS_WITHOUT_FLAG: readonly string[] = Object.entries(KUBELET_CONFIG_FIELDS)
  .filter(([, row]) => row.flag === undefined)
  .map(([path]) => path);

/** The oldest release the agent renders for: the newest of the flagless fields. */
export const OLDEST_SUPPORTED_MINOR: KubeletMinor = Math.max(...FIELDS_WITHOUT_FLAG.map((path) => KUBELET_CONFIG_FIELDS[path]!.since));

export function accepts(row: FieldRow | FlagRow, minor: KubeletMinor): boolean {
  return minor >= row.since && (row.until === undefined || minor <= row.until);
}

function taintFlag(taints: readonly Taint[]): string[] {
  if (taints.length === 0) return [];
  return [`--register-with-taints=${taints.map((taint) => `${taint.key}=${taint.value ?? ""}:${taint.effect}`).join(",")}`];
}

/** The leaf paths of a KubeletConfiguration document (a list is one leaf). */
export function fieldPaths(document: Readonly<Record<string, unknown>>, prefix = ""): string[] {
  return Object.entries(document).flatMap(([name, value]) =>
    value !== null && typeof value === "object" && !Array.isArray(value)
      ? fieldPaths(value as Record<string, unknown>, `${prefix}${name}.`)
      : [`${prefix}${name}`],
  );
}
