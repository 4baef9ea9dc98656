// Every metric the agent writes for node-exporter's textfile collector, in one table: the
// exposition's HELP and TYPE lines and the README's metrics table are both read from it.
//
// The per-certificate series are those of enix/x509-certificate-exporter (names, types,
// labels and meaning as of its v4.2.0, unchanged since v3 for these series), so its Grafana
// dashboard and alert rules work on them unchanged. Its file and kubeconfig sources label a
// certificate with the labels below; the Kubernetes-source labels (secret_*, configmap_*,
// cabundle_*) and its collision discriminator are empty for files there, and Prometheus
// stores an empty label as no label, so they are left out here.

/** Which file a family is written to: each command writes its own. */
export type MetricsFile = "verify" | "apply";

export const METRICS_FILE_NAMES: Readonly<Record<MetricsFile, string>> = {
  verify: "typhoon_agent_verify.prom",
  apply: "typhoon_agent_apply.prom",
};

const NAME_ATTRIBUTES = ["C", "ST", "L", "O", "OU", "CN"] as const;

/** x509-certificate-exporter's labels for a certificate read from a file or a kubeconfig. */
const CERTIFICATE_LABELS = [
  "filename",
  "filepath",
  "embedded_kind",
  "embedded_key",
  "serial_number",
  ...NAME_ATTRIBUTES.map((attribute) => `issuer_${attribute}`),
  ...NAME_ATTRIBUTES.map((attribute) => `subject_${attribute}`),
] as const;

export type CertificateLabel = (typeof CERTIFICATE_LABELS)[number];

interface MetricFamily {
  name: string;
  /** All of them are gauges: each file is a snapshot of one run. */
  type: "gauge";
  help: string;
  /** Label names, as the README lists them. */
  labels: string;
  file: MetricsFile;
}

const CERTIFICATE_LABEL_SUMMARY = "filename, filepath, embedded_kind, embedded_key, serial_number, issuer_C … issuer_CN, subject_C … subject_CN";

export const METRIC_FAMILIES = {
  certificateNotAfter: {
    name: "x509_cert_not_after",
    type: "gauge",
    help: "Unix timestamp of the certificate's NotAfter; the time left is x509_cert_not_after - time().",
    labels: CERTIFICATE_LABEL_SUMMARY,
    file: "verify",
  },
  certificateNotBefore: {
    name: "x509_cert_not_before",
    type: "gauge",
    help: "Unix timestamp of the certificate's NotBefore.",
    labels: CERTIFICATE_LABEL_SUMMARY,
    file: "verify",
  },
  certificateExpired: {
    name: "x509_cert_expired",
    type: "gauge",
    help: "1 if the certificate had expired when verify last ran, 0 otherwise (up to a day old: alert on x509_cert_not_after - time()).",
    labels: CERTIFICATE_LABEL_SUMMARY,
    file: "verify",
  },
  certificateError: {
    name: "x509_cert_error",
    type: "gauge",
    help: "1 if verify could not read the certificate, or found it does not match its private key or does not chain to its CA, 0 otherwise.",
    labels: `${CERTIFICATE_LABEL_SUMMARY} (only filename and filepath for a certificate that could not be read)`,
    file: "verify",
  },
  verifyLastRun: {
    name: "typhoon_agent_verify_last_run_timestamp_seconds",
    type: "gauge",
    help: "Unix time the last typhoon-agent verify checked the node.",
    labels: "none",
    file: "verify",
  },
  verifyDuration: {
    name: "typhoon_agent_verify_duration_seconds",
    type: "gauge",
    help: "How long the last typhoon-agent verify took, in seconds.",
    labels: "none",
    file: "verify",
  },
  verifyExitCode: {
    name: "typhoon_agent_verify_exit_code",
    type: "gauge",
    help: "Exit code of the last typhoon-agent verify: 0 no error, 1 an error found; others as typhoon-agent --help lists them.",
    labels: "none",
    file: "verify",
  },
  verifyOutcome: {
    name: "typhoon_agent_verify_outcome",
    type: "gauge",
    help: "Outcome of the last typhoon-agent verify: 1 for the one it had (ok, or failed with an error), 0 for the other.",
    labels: "outcome",
    file: "verify",
  },
  verifyFindings: {
    name: "typhoon_agent_verify_findings",
    type: "gauge",
    help: "Findings of the last typhoon-agent verify, by severity: an error fails the run, a warning does not.",
    labels: "severity",
    file: "verify",
  },
  applyLastRun: {
    name: "typhoon_agent_apply_last_run_timestamp_seconds",
    type: "gauge",
    help: "Unix time the last typhoon-agent apply finished.",
    labels: "none",
    file: "apply",
  },
  applyDuration: {
    name: "typhoon_agent_apply_duration_seconds",
    type: "gauge",
    help: "How long the last typhoon-agent apply took, in seconds.",
    labels: "none",
    file: "apply",
  },
  applyExitCode: {
    name: "typhoon_agent_apply_exit_code",
    type: "gauge",
    help: "Exit code of the last typhoon-agent apply: 0 applied or unchanged; others as typhoon-agent --help lists them.",
    labels: "none",
    file: "apply",
  },
  applyOutcome: {
    name: "typhoon_agent_apply_outcome",
    type: "gauge",
    help: "Outcome of the last typhoon-agent apply: 1 for the one it had (applied, unchanged or failed), 0 for the others.",
    labels: "outcome",
    file: "apply",
  },
  bundleInfo: {
    name: "typhoon_agent_bundle_info",
    type: "gauge",
    help: "The asset bundle installed on this node, by its SHA-256 as Terraform's sha256() computes it; always 1, absent on a worker.",
    labels: "sha256",
    file: "apply",
  },
} as const satisfies Record<string, MetricFamily>;

export type FamilyName = keyof typeof METRIC_FAMILIES;

/** The values an outcome label takes, in order: every one is written, 1 for the run's. */
export const VERIFY_OUTCOMES = ["ok", "failed"] as const;
export const APPLY_OUTCOMES = ["applied", "unchanged", "failed"] as const;
