// /etc/kubernetes/kubelet.yaml: the KubeletConfiguration. Everything the kubelet accepts in
// its config file goes here rather than on the command line (several flags are deprecated
// in favour of it); kubelet.service keeps only what has no config field, and what the
// node's kubelet release does not accept in the file yet (kubelet-release.ts).

import { dump } from "js-yaml";
import { nodeTaints } from "../config/labels.ts";
import type { AgentConfig } from "../config/types.ts";
import { STATIC_POD_DIRECTORY } from "../paths.ts";
import { fitToRelease, kubeletRelease, type KubeletSettings } from "./kubelet-release.ts";

export const KUBELET_CONFIG_PATH = "/etc/kubernetes/kubelet.yaml";
export const VOLUME_PLUGIN_DIR = "/var/lib/kubelet/volumeplugins";
/** Extracted from the bootstrap kubeconfig by kubelet.service before the kubelet starts. */
export const CLIENT_CA_FILE = "/etc/kubernetes/ca.crt";
const CONTAINER_RUNTIME_ENDPOINT = "unix:///run/containerd/containerd.sock";

/** Marks a rendered file as the agent's, for an operator who opens it. */
export const RENDERED_HEADER =
  "Written by typhoon-agent from its configuration (/etc/typhoon/agent.yaml); edits here are replaced by the next apply.";

function kubeletConfiguration(config: AgentConfig): Record<string, unknown> {
  return {
    apiVersion: "kubelet.config.k8s.io/v1beta1",
    kind: "KubeletConfiguration",
    authentication: {
      anonymous: { enabled: false },
      // Bearer tokens are checked with the API server (TokenReview) ...
      webhook: { enabled: true },
      // ... and client certificates (the API server's, for logs and exec) against the cluster CA.
      x509: { clientCAFile: CLIENT_CA_FILE },
    },
    authorization: { mode: "Webhook" },
    // Typhoon's containerd runs runc with SystemdCgroup = true; both must agree.
    cgroupDriver: "systemd",
    clusterDNS: [config.cluster_dns_service_ip],
    clusterDomain: config.cluster_domain_suffix,
    containerRuntimeEndpoint: CONTAINER_RUNTIME_ENDPOINT,
    healthzPort: 0,
    readOnlyPort: 0,
    // Here rather than --register-with-taints: repeating that flag keeps only the last one.
    registerWithTaints: nodeTaints(config),
    // The upstream servers, not the 127.0.0.53 stub in /etc/resolv.conf that pods cannot reach.
    resolvConf: "/run/systemd/resolve/resolv.conf",
    rotateCertificates: true,
    serializeImagePulls: false,
    // Graceful node shutdown, within the 45 s logind inhibitor delay the node's Ignition config sets.
    shutdownGracePeriod: "45s",
    shutdownGracePeriodCriticalPods: "30s",
    staticPodPath: STATIC_POD_DIRECTORY,
    // Where kube-controller-manager looks for FlexVolume drivers too.
    volumePluginDir: VOLUME_PLUGIN_DIR,
  };
}

/** kubelet.yaml's fields and the flags for the node's kubelet release; ConfigError (78) when it cannot be configured. */
export function kubeletSettings(config: AgentConfig): KubeletSettings {
  return fitToRelease(kubeletConfiguration(config), kubeletRelease(config));
}

export function renderKubeletConfig(config: AgentConfig): string {
  return `# ${RENDERED_HEADER}\n${dump(kubeletSettings(config).configuration, { lineWidth: -1 })}`;
}
