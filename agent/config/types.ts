// The agent configuration (/etc/typhoon/agent.yaml, SPEC section 6): what the loader in
// this folder produces and every other module reads.

export type Role = "controller" | "worker";
export type RuntimeChoice = "auto" | "podman" | "docker" | "rkt";
export type Runtime = Exclude<RuntimeChoice, "auto">;

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
  /** Where apply and verify write their Prometheus textfile collector files; "" writes none. */
  textfile_collector_dir: string;
}
