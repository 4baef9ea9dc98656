// The host paths the agent installs into and keeps its state in, each named once. A host
// path is an absolute path on the node as an operator knows it ("/opt/bootstrap/assets");
// HostRoot (hostfs/host-root.ts) finds where it really is below --root, and the placement
// table (placement/policy.ts) says what goes where and who owns it. See docs/design.md.

/** etcd's TLS directory, and the one inside it that holds etcd's certificates and keys. */
export const ETCD_TLS_DIRECTORY = "/etc/ssl/etcd";
export const ETCD_CERTIFICATE_DIRECTORY = `${ETCD_TLS_DIRECTORY}/etcd`;
/** Control-plane TLS and kubeconfigs, which the static pods mount. */
export const PKI_DIRECTORY = "/etc/kubernetes/pki";
/** The kubelet's staticPodPath: the control plane. */
export const STATIC_POD_DIRECTORY = "/etc/kubernetes/manifests";
/** The manifests bootstrap.service applies once with kubectl. */
export const BOOTSTRAP_ASSETS_DIRECTORY = "/opt/bootstrap/assets";

/** Where Terraform copies a controller's asset bundle; typhoon-agent.path watches it. */
export const BUNDLE_PATH = "/home/core/assets";

/** The agent's own state: records, backups (which hold keys) and the lock. */
export const STATE_DIRECTORY = "/var/lib/typhoon-agent";
/** What the last apply installed, written by the same transaction as the files. */
export const INSTALL_RECORD = `${STATE_DIRECTORY}/installed.json`;
/** The last apply's result, as --json prints it. */
export const RESULT_FILE = `${STATE_DIRECTORY}/result.json`;
/** The record of a running (or interrupted) transaction. */
export const TRANSACTION_RECORD = `${STATE_DIRECTORY}/state.json`;
export const LOCK_FILE = `${STATE_DIRECTORY}/lock`;
export const BACKUP_DIRECTORY = `${STATE_DIRECTORY}/backups`;

/**
 * node-exporter's conventional textfile collector directory, textfile_collector_dir's
 * default: apply and verify leave their metrics files here. On a node, systemd-tmpfiles makes
 * it at boot and the agent's units may write it (packaging/agent-files.ts).
 */
export const TEXTFILE_COLLECTOR_DIRECTORY = "/var/lib/node_exporter/textfile_collector";
