// /etc/kubernetes/kubelet.yaml, parsed back: the KubeletConfiguration carries the cluster
// DNS settings and taints from the agent configuration, and the security settings that
// must never drift (no anonymous access, no read-only port, webhook authn/authz).

import { load } from "js-yaml";
import { describe, expect, test } from "vitest";
import { defaultConfig } from "../agent/config/keys.ts";
import type { AgentConfig } from "../agent/config/types.ts";
import { renderKubeletConfig } from "../agent/units/kubelet-config.ts";

function parsed(overrides: Partial<AgentConfig> = {}): Record<string, unknown> {
  const text = renderKubeletConfig({ ...defaultConfig(), ...overrides });
  expect(text.startsWith("# ")).toBe(true);
  return load(text) as Record<string, unknown>;
}

describe("kubelet.yaml", () => {
  test("is a KubeletConfiguration v1beta1", () => {
    const config = parsed();
    expect(config.apiVersion).toBe("kubelet.config.k8s.io/v1beta1");
    expect(config.kind).toBe("KubeletConfiguration");
  });

  test("clusterDNS and clusterDomain come from the agent configuration", () => {
    expect(parsed()).toMatchObject({ clusterDNS: ["10.3.0.10"], clusterDomain: "cluster.local" });
    expect(parsed({ cluster_dns_service_ip: "fd00:10:3::a", cluster_domain_suffix: "k8s.example.com" })).toMatchObject({
      clusterDNS: ["fd00:10:3::a"],
      clusterDomain: "k8s.example.com",
    });
  });

  test("locks the kubelet API down: webhook authentication and authorization, no anonymous access, no read-only port", () => {
    expect(parsed()).toMatchObject({
      authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: "/etc/kubernetes/ca.crt" } },
      authorization: { mode: "Webhook" },
      readOnlyPort: 0,
    });
  });

  test("matches the node: systemd cgroups, containerd's socket, the static pod directory", () => {
    expect(parsed()).toMatchObject({
      cgroupDriver: "systemd",
      containerRuntimeEndpoint: "unix:///run/containerd/containerd.sock",
      staticPodPath: "/etc/kubernetes/manifests",
      rotateCertificates: true,
    });
  });

  test("registers every taint, the role's first (the repeated flag would keep only the last)", () => {
    expect(parsed({ role: "controller", node_taints: ["a=b:NoExecute", "c:PreferNoSchedule"] }).registerWithTaints).toEqual([
      { key: "node-role.kubernetes.io/controller", effect: "NoSchedule" },
      { key: "a", value: "b", effect: "NoExecute" },
      { key: "c", effect: "PreferNoSchedule" },
    ]);
    expect(parsed({ role: "worker" }).registerWithTaints).toEqual([]);
  });
});
