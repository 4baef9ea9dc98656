// What verify reports: findings (an error fails the run, a warning does not) and one row
// per certificate for the table, its status derived from the findings about it, in one
// VerifyResult. Plain data, so the table, JSON and journal (report/verify-table.ts,
// report/verify-journal.ts) all read it.

type Severity = "error" | "warning";

/** Which check found it; JSON consumers filter on it. */
type CheckName = "config" | "missing" | "symlink" | "owner" | "mode" | "content" | "parse" | "key" | "chain" | "ca" | "validity" | "reference";

export interface Finding {
  severity: Severity;
  check: CheckName;
  /** Host path of the file it is about. */
  path: string;
  message: string;
  /** For validity findings: the certificate, so the journal entry carries its expiry. */
  certificate?: CertificateFacts;
}

/**
 * The name attributes certificate exporters label a certificate with: the first C, ST, L,
 * O and OU and the last CN, as Go's crypto/x509 reads a name; absent ones are left out.
 */
export type NameFields = Partial<Record<"C" | "ST" | "L" | "O" | "OU" | "CN", string>>;

export interface CertificateRow {
  /** The certificate list's name, or "<kubeconfig> client" for a kubeconfig's client certificate. */
  name: string;
  path: string;
  /** For a kubeconfig's client certificate: the name of its entry under `users` ("" when it has none). */
  kubeconfigUser?: string;
  subject: string;
  issuer: string;
  /** Hexadecimal, as `openssl x509 -serial` prints it. */
  serialNumber: string;
  names: { subject: NameFields; issuer: NameFields };
  sans: string[];
  /** Name of the CA it must chain to, if any. */
  ca: string | undefined;
  notBefore: string;
  notAfter: string;
  /** Whole days until notAfter, toward zero (negative once expired a day or more). */
  daysLeft: number;
  /** "ok", or every check that failed on it (statusOf). */
  status: string;
}

/** What a certificate is, before the checks decide its status. */
export type CertificateFacts = Omit<CertificateRow, "status">;

/**
 * The one place a certificate's status is decided, from the findings about it: "ok" when
 * there are none, else each failed check once, in the order found, joined by ", ". Its
 * validity finding says "expired", "not yet valid" or "expiring"; any other finding on its
 * file (or, for a kubeconfig's client, on the kubeconfig) says its check: "key", "chain",
 * "ca", "mode", "owner", "parse", ...
 */
function statusOf(certificate: CertificateFacts, findings: readonly Finding[], checkedAt: Date): string {
  const problems = new Set<string>();
  for (const finding of findings) {
    if (finding.certificate !== undefined) {
      if (finding.certificate === certificate) problems.add(validityStatus(finding.severity, finding.certificate, checkedAt));
    } else if (finding.path === certificate.path) {
      problems.add(finding.check);
    }
  }
  return problems.size === 0 ? "ok" : [...problems].join(", ");
}

/** The certificates with their status, once every finding of the run is in. */
export function withStatus(certificates: readonly CertificateFacts[], findings: readonly Finding[], checkedAt: Date): CertificateRow[] {
  return certificates.map((certificate) => ({ ...certificate, status: statusOf(certificate, findings, checkedAt) }));
}

function validityStatus(severity: Severity, certificate: CertificateFacts, checkedAt: Date): string {
  if (severity === "warning") return "expiring";
  return new Date(certificate.notBefore) > checkedAt ? "not yet valid" : "expired";
}

export interface VerifyResult {
  command: "verify";
  root: string;
  checkedAt: string;
  warnDays: number;
  exitCode: number;
  /** Files in the install record. */
  files: number;
  certificates: CertificateRow[];
  findings: Finding[];
  /** When something was found: the command that repairs it, one that works on this node (verify/repair-hint.ts). */
  hint?: string;
}
