// Node labels and taints: what each role registers the node with, and the operator's extra
// `node_labels` / `node_taints` checked the way the kubelet checks them, so a bad one stops
// the apply (exit 78) instead of leaving a kubelet that refuses to start.
// Label syntax is Kubernetes' qualified name and label value; the namespace rule is the
// kubelet's since 1.16 (cmd/kubelet/app/options: isKubernetesLabel, IsKubeletLabel).

import type { AgentConfig, Role } from "./types.ts";
import { dnsSubdomainProblem, type Problem } from "./forms.ts";

const TAINT_EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"] as const;
type TaintEffect = (typeof TAINT_EFFECTS)[number];

/** A taint as KubeletConfiguration.registerWithTaints holds it (an empty value is left out). */
export interface Taint {
  key: string;
  value?: string;
  effect: TaintEffect;
}

/**
 * What each role registers with (README, "kubelet.service"). No node-role.kubernetes.io label: the
 * kubelet refuses to set it; the controller taint keeps ordinary pods off the control plane.
 */
const ROLE_LABELS: Readonly<Record<Role, readonly string[]>> = {
  controller: ["node.kubernetes.io/controller=true"],
  worker: ["node.kubernetes.io/node"],
};
const ROLE_TAINTS: Readonly<Record<Role, readonly string[]>> = {
  controller: ["node-role.kubernetes.io/controller=:NoSchedule"],
  worker: [],
};

/** The kubernetes.io / k8s.io labels a kubelet may set on its own Node. */
const KUBELET_LABEL_NAMESPACES = ["kubelet.kubernetes.io", "node.kubernetes.io"];
const KUBELET_LABELS = [
  "kubernetes.io/hostname",
  "kubernetes.io/os",
  "kubernetes.io/arch",
  "beta.kubernetes.io/os",
  "beta.kubernetes.io/arch",
  "beta.kubernetes.io/instance-type",
  "node.kubernetes.io/instance-type",
  "failure-domain.beta.kubernetes.io/region",
  "failure-domain.beta.kubernetes.io/zone",
  "topology.kubernetes.io/region",
  "topology.kubernetes.io/zone",
];
const RESERVED_NAMESPACES = ["kubernetes.io", "k8s.io"];

/** A label name part, and a non-empty label value: 1-63 characters. */
const NAME = /^[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const NAME_FORM = "1-63 characters of A-Z a-z 0-9 - _ . that start and end with a letter or digit";

export const LABEL_FORM = "key=value or key in Kubernetes label syntax";
export const TAINT_FORM = `key=value:effect or key:effect, effect one of ${TAINT_EFFECTS.join(", ")}`;

/** What is wrong with one `key=value` (or `key`) node label, or undefined. */
export function labelProblem(label: string): Problem {
  const { key, value } = splitLabel(label);
  return qualifiedNameProblem(key) ?? labelValueProblem(value) ?? kubeletNamespaceProblem(key);
}

/** What is wrong with one `key[=value]:effect` taint, or undefined. */
export function taintProblem(spec: string): Problem {
  const parsed = readTaint(spec);
  return "problem" in parsed ? parsed.problem : undefined;
}

/** The labels the node registers with: its role's, then the operator's. */
export function nodeLabels(config: Pick<AgentConfig, "role" | "node_labels">): string[] {
  return [...ROLE_LABELS[config.role], ...config.node_labels];
}

/** The taints the node registers with: its role's, then the operator's (validated ones). */
export function nodeTaints(config: Pick<AgentConfig, "role" | "node_taints">): Taint[] {
  return [...ROLE_TAINTS[config.role], ...config.node_taints].map((spec) => {
    const parsed = readTaint(spec);
    if ("problem" in parsed) throw new Error(`internal: unvalidated taint ${spec}: ${parsed.problem}`);
    return parsed.taint;
  });
}

/** A key set twice (the kubelet would keep only the last value), or one the role sets. */
export function duplicateLabelProblem(role: Role, labels: readonly string[]): Problem {
  return duplicateProblem(ROLE_LABELS[role], labels, (label) => splitLabel(label).key, role);
}

/** A key and effect given twice: the API server rejects such a Node. */
export function duplicateTaintProblem(role: Role, taints: readonly string[]): Problem {
  return duplicateProblem(ROLE_TAINTS[role], taints, (spec) => {
    const parsed = readTaint(spec);
    return "problem" in parsed ? spec : `${parsed.taint.key}:${parsed.taint.effect}`;
  }, role);
}

function duplicateProblem(fromRole: readonly string[], extra: readonly string[], identity: (item: string) => string, role: Role): Problem {
  const roleIdentities = new Set(fromRole.map(identity));
  const seen = new Set<string>();
  for (const item of extra) {
    const id = identity(item);
    if (roleIdentities.has(id)) return `"${item}" sets ${id}, which role ${role} already sets`;
    if (seen.has(id)) return `"${item}" sets ${id} a second time`;
    seen.add(id);
  }
  return undefined;
}

function splitLabel(label: string): { key: string; value: string } {
  const equals = label.indexOf("=");
  return equals < 0 ? { key: label, value: "" } : { key: label.slice(0, equals), value: label.slice(equals + 1) };
}

function readTaint(spec: string): { taint: Taint } | { problem: string } {
  const parts = spec.split(":");
  if (parts.length === 1) return { problem: `has no effect (${TAINT_EFFECTS.join(", ")})` };
  if (parts.length > 2) return { problem: 'has more than one ":"' };
  const [keyValue, effect] = parts as [string, string];
  if (!(TAINT_EFFECTS as readonly string[]).includes(effect)) {
    return { problem: `has effect "${effect}", not one of ${TAINT_EFFECTS.join(", ")}` };
  }
  const pieces = keyValue.split("=");
  if (pieces.length > 2) return { problem: 'has more than one "="' };
  const [key, value = ""] = pieces as [string, string?];
  const problem = qualifiedNameProblem(key) ?? labelValueProblem(value);
  if (problem !== undefined) return { problem };
  return { taint: value === "" ? { key, effect: effect as TaintEffect } : { key, value, effect: effect as TaintEffect } };
}

/** Kubernetes' IsQualifiedName: an optional DNS-subdomain prefix and "/", then a name. */
function qualifiedNameProblem(key: string): Problem {
  if (key === "") return "has an empty key";
  const parts = key.split("/");
  if (parts.length > 2) return `has key "${key}" with more than one "/"`;
  const name = parts.at(-1)!;
  if (parts.length === 2) {
    const prefix = parts[0]!;
    const prefixProblem = prefix === "" ? "is empty" : dnsSubdomainProblem(prefix);
    if (prefixProblem !== undefined) return `has key prefix "${prefix}" that ${prefixProblem}`;
  }
  return NAME.test(name) ? undefined : `has key name "${name}" that is not ${NAME_FORM}`;
}

/** Kubernetes' IsValidLabelValue: empty, or a name. */
function labelValueProblem(value: string): Problem {
  return value === "" || NAME.test(value) ? undefined : `has value "${value}" that is not empty or ${NAME_FORM}`;
}

function kubeletNamespaceProblem(key: string): Problem {
  const slash = key.indexOf("/");
  const namespace = slash < 0 ? "" : key.slice(0, slash);
  const within = (domain: string): boolean => namespace === domain || namespace.endsWith(`.${domain}`);
  if (!RESERVED_NAMESPACES.some(within)) return undefined;
  if (KUBELET_LABELS.includes(key) || KUBELET_LABEL_NAMESPACES.some(within)) return undefined;
  const roleHint = within("node-role.kubernetes.io") ? " (node-role labels are set with `kubectl label node` once the node has registered)" : "";
  return `is in the kubernetes.io/k8s.io namespace, where the kubelet (>= 1.16) may set only ${ALLOWED_KUBELET_LABELS}${roleHint}`;
}

/** "kubelet.kubernetes.io/*, ..., kubernetes.io/{hostname,os,arch}, ...": the allowed set, short. */
const ALLOWED_KUBELET_LABELS = (() => {
  const namesByPrefix = new Map<string, string[]>();
  for (const label of KUBELET_LABELS) {
    const [prefix, name] = label.split("/") as [string, string];
    if (KUBELET_LABEL_NAMESPACES.includes(prefix)) continue; // covered by prefix/*
    namesByPrefix.set(prefix, [...(namesByPrefix.get(prefix) ?? []), name]);
  }
  const grouped = [...namesByPrefix].map(([prefix, names]) => (names.length === 1 ? `${prefix}/${names[0]}` : `${prefix}/{${names.join(",")}}`));
  return [...KUBELET_LABEL_NAMESPACES.map((namespace) => `${namespace}/*`), ...grouped].join(", ");
})();
