// What verify reports: findings (an error fails the run, a warning does not) and one row
// per certificate for the table, in one VerifyResult. Plain data, so the table, JSON and
// journal (report/verify-table.ts, report/verify-journal.ts) all read it.

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
  certificate?: CertificateRow;
}

type CertificateStatus = "ok" | "expiring" | "expired" | "not yet valid";

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
  status: CertificateStatus;
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
}
