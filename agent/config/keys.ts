// The one table of agent configuration keys (README, "Configuration"). The YAML loader, the command
// line flags, their --help text and the README table are all derived from it, so a key
// cannot exist in one place and be missing from another. Kept free of heavy imports: every
// command's option parsing reads it.

import { TEXTFILE_COLLECTOR_DIRECTORY } from "../paths.ts";
import type { AgentConfig } from "./types.ts";
import { FLOATING_TAGS, clusterDnsAddressProblem, directoryOrEmptyProblem, dnsSubdomainProblem, imageReferenceProblem, kubeletVersionProblem, oneOfProblem, userNameProblem, type Problem } from "./forms.ts";
import { LABEL_FORM, TAINT_FORM, duplicateLabelProblem, duplicateTaintProblem, labelProblem, taintProblem } from "./labels.ts";

export type ConfigKeyName = keyof AgentConfig;

interface KeyFields<K extends ConfigKeyName> {
  name: K;
  /** Scalars are one string; lists are YAML sequences, and repeatable flags. */
  kind: NonNullable<AgentConfig[K]> extends readonly string[] ? "list" : "scalar";
  /** What a valid value looks like; errors, --help and the README state it. */
  form: string;
  /** Used when neither the file nor a flag sets the key (undefined: the key stays unset). */
  default: AgentConfig[K];
  description: string;
  /** What is wrong with one value (one item of a list), or undefined. */
  check: (value: string) => Problem;
  /** What to do about a value `check` refused, where the form alone does not say it. */
  hint?: string;
  /** What is wrong with a whole list once the rest of the configuration is known. */
  checkList?: (values: readonly string[], config: AgentConfig) => Problem;
}

export type ConfigKey = { [K in ConfigKeyName]: KeyFields<K> }[ConfigKeyName];

const ROLES = ["controller", "worker"];
const RUNTIME_CHOICES = ["auto", "podman", "docker", "rkt"];
const CLOUD_PROVIDERS = ["external"];
/** Typhoon's platform modules, and none. */
export const PLATFORM_CHOICES = ["none", "aws", "azure", "bare-metal", "digital-ocean", "google-cloud"] as const;

/** Where the agent reads its configuration, below --root. */
export const DEFAULT_CONFIG_PATH = "/etc/typhoon/agent.yaml";

const DEFAULT_KUBELET_IMAGE = "quay.io/poseidon/kubelet:v1.36.1";

export const CONFIG_KEYS: { readonly [K in ConfigKeyName]: KeyFields<K> } = {
  role: {
    name: "role",
    kind: "scalar",
    form: "controller or worker",
    default: "controller",
    description: "controller: etcd, the static-pod control plane and the bundle; worker: the kubelet only, no bundle",
    check: oneOfProblem(ROLES),
  },
  runtime: {
    name: "runtime",
    kind: "scalar",
    form: "auto (from /etc/os-release), podman, docker or rkt",
    default: "auto",
    description: "what runs the kubelet container: podman on Fedora CoreOS, docker on Flatcar, rkt on Container Linux",
    check: oneOfProblem(RUNTIME_CHOICES),
  },
  kubelet_image: {
    name: "kubelet_image",
    kind: "scalar",
    form: `an image reference pinned by a release tag or a digest (not ${FLOATING_TAGS.join(", ")} or no tag), like quay.io/poseidon/kubelet:v1.36.1`,
    default: DEFAULT_KUBELET_IMAGE,
    description: "the kubelet container image",
    check: imageReferenceProblem,
    hint: "pin a release tag (quay.io/poseidon/kubelet:v1.36.1) or a digest (quay.io/poseidon/kubelet@sha256:<64 hex digits>, from `podman inspect --format '{{.Digest}}' IMAGE`)",
  },
  cluster_dns_service_ip: {
    name: "cluster_dns_service_ip",
    kind: "scalar",
    form: "a unicast IPv4 or IPv6 address (not unspecified, loopback, multicast, broadcast, 240.0.0.0/4 or IPv6 link-local), like 10.3.0.10",
    default: "10.3.0.10",
    description: "the cluster DNS Service IP (kubelet clusterDNS); Typhoon uses the 10th address of the service CIDR",
    check: clusterDnsAddressProblem,
    hint: "use the address of the cluster DNS Service: Typhoon's is the 10th of the service CIDR (10.3.0.10 for 10.3.0.0/16)",
  },
  cluster_domain_suffix: {
    name: "cluster_domain_suffix",
    kind: "scalar",
    form: "a lower-case DNS name, like cluster.local",
    default: "cluster.local",
    description: "the cluster DNS domain (kubelet clusterDomain)",
    check: dnsSubdomainProblem,
  },
  node_labels: {
    name: "node_labels",
    kind: "list",
    form: `a list of ${LABEL_FORM}`,
    default: [],
    description: "extra labels the node registers with, after its role's label",
    check: labelProblem,
    checkList: (labels, config) => duplicateLabelProblem(config.role, labels),
  },
  node_taints: {
    name: "node_taints",
    kind: "list",
    form: `a list of ${TAINT_FORM}`,
    default: [],
    description: "extra taints the node registers with, after its role's taint",
    check: taintProblem,
    checkList: (taints, config) => duplicateTaintProblem(config.role, taints),
  },
  cloud_provider: {
    name: "cloud_provider",
    kind: "scalar",
    form: "external (the only provider a current kubelet knows), or unset for none",
    default: undefined,
    description: "the kubelet's --cloud-provider",
    check: oneOfProblem(CLOUD_PROVIDERS),
  },
  etcd_user: {
    name: "etcd_user",
    kind: "scalar",
    form: "a user name, like etcd",
    default: "etcd",
    description: "owner of the etcd TLS files on a controller",
    check: userNameProblem,
  },
  platform: {
    name: "platform",
    kind: "scalar",
    form: "none, aws, azure, bare-metal, digital-ocean or google-cloud",
    default: "none",
    description:
      "the Typhoon platform module that made the node: kubelet.service gets what that module's own unit has " +
      "(aws: --provider-id from the instance metadata; digital-ocean: the private IPv4 as node name; bare-metal: the host name)",
    check: oneOfProblem(PLATFORM_CHOICES),
  },
  kubelet_version: {
    name: "kubelet_version",
    kind: "scalar",
    form: "a Kubernetes version, like 1.36 or 1.36.1",
    default: undefined,
    description:
      "the kubelet's version, which decides what kubelet.yaml may hold; needed when kubelet_image has no version tag " +
      "(pinned by digest alone), and must agree with the tag when it has one",
    check: kubeletVersionProblem,
  },
  textfile_collector_dir: {
    name: "textfile_collector_dir",
    kind: "scalar",
    form: 'an absolute directory path, or "" for none (in agent.yaml: an empty flag value is a usage error)',
    default: TEXTFILE_COLLECTOR_DIRECTORY,
    description: "where apply and verify write their Prometheus metrics for node-exporter's textfile collector; empty writes none",
    check: directoryOrEmptyProblem,
  },
};

/** The keys in table order (the order of --help and the README). */
export const CONFIG_KEY_LIST: readonly ConfigKey[] = Object.values(CONFIG_KEYS);

/** Keys that were renamed: the old name is an error that names the new one. */
export const RENAMED_KEYS: Readonly<Record<string, ConfigKeyName>> = {
  k8s_dns_service_ip: "cluster_dns_service_ip",
};

/** `cluster_dns_service_ip` → `cluster-dns-service-ip`, the flag that sets the key. */
export function flagName(key: ConfigKeyName): string {
  return key.replaceAll("_", "-");
}

/** The default as --help and the README show it. */
export function describeDefault(key: ConfigKey): string {
  const value = key.default;
  if (value === undefined) return "unset";
  if (Array.isArray(value)) return value.length === 0 ? "none" : value.join(", ");
  return value;
}

export function defaultConfig(): AgentConfig {
  const config: Record<string, unknown> = {};
  for (const key of CONFIG_KEY_LIST) {
    if (key.default !== undefined) config[key.name] = Array.isArray(key.default) ? [...key.default] : key.default;
  }
  return config as unknown as AgentConfig;
}
