// The agent configuration (/etc/typhoon/agent.yaml; README, "Configuration"): what the loader in
// this folder produces and every other module reads.

export type Role = "controller" | "worker";
export type RuntimeChoice = "auto" | "podman" | "docker" | "rkt";
export type Runtime = Exclude<RuntimeChoice, "auto">;
/** The Typhoon platform module that made the node; "none" adds nothing to the kubelet. */
export type Platform = "none" | "aws" | "azure" | "bare-metal" | "digital-ocean" | "google-cloud";

export interface AgentConfig {
  role: Role;
  runtime: RuntimeChoice;
  kubelet_image: string;
  cluster_dns_service_ip: string;
  cluster_domain_suffix: string;
  /** Extra node labels, `key=value` (or `key` for an empty value). */
  node_labels: string[];
  /** Extra taints, `key=value:Effect` or `key:Effect`. */
  node_taints: string[];
  cloud_provider?: string;
  /** Owner of the etcd TLS files. */
  etcd_user: string;
  platform: Platform;
  /** The kubelet's version (1.36 or 1.36.1), for an image that does not say it in its tag. */
  kubelet_version?: string;
  /** Where apply and verify write their Prometheus textfile collector files; "" writes none. */
  textfile_collector_dir: string;
}
