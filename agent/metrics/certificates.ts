// verify's certificates as x509-certificate-exporter's series: one set of labels per
// certificate (a file, or a kubeconfig's client certificate), its NotAfter and NotBefore
// from the certificate itself, and whether verify found it broken.

import { CERTIFICATE_LIST } from "../verify/certificates.ts";
import type { CertificateRow, Finding, NameFields } from "../verify/findings.ts";
import type { Sample, Samples } from "./exposition.ts";
import type { CertificateLabel } from "./families.ts";

/** The checks that say a certificate cannot be trusted as installed (validity has its own series). */
const BREAKING_CHECKS: ReadonlySet<Finding["check"]> = new Set(["missing", "symlink", "parse", "key", "chain", "ca"]);

/** Files that hold a certificate, with the key it must match when there is one. */
const CERTIFICATE_FILES: ReadonlyArray<{ file: string; key?: string }> = [
  ...CERTIFICATE_LIST.certificates.map((spec) => ({ file: spec.path, ...(spec.keyPath === undefined ? {} : { key: spec.keyPath }) })),
  ...CERTIFICATE_LIST.kubeconfigs.map((kubeconfig) => ({ file: kubeconfig.path })),
];

export function certificateSamples(certificates: readonly CertificateRow[], findings: readonly Finding[], checkedAt: Date): Samples {
  const broken = brokenFiles(findings);
  const rows = certificates.map((row) => ({ row, labels: certificateLabels(row) }));
  const seconds = (iso: string): number => Date.parse(iso) / 1000;
  const unreadable: Sample[] = [...broken]
    .filter((file) => !certificates.some((row) => row.path === file))
    .map((file) => ({ labels: { filename: baseName(file), filepath: file }, value: 1 }));
  return {
    certificateNotAfter: rows.map(({ row, labels }) => ({ labels, value: seconds(row.notAfter) })),
    certificateNotBefore: rows.map(({ row, labels }) => ({ labels, value: seconds(row.notBefore) })),
    certificateExpired: rows.map(({ row, labels }) => ({ labels, value: checkedAt.getTime() > Date.parse(row.notAfter) ? 1 : 0 })),
    certificateError: [...rows.map(({ row, labels }) => ({ labels, value: broken.has(row.path) ? 1 : 0 })), ...unreadable],
  };
}

/**
 * The certificate files an error finding makes untrustworthy: the file itself, its key, or
 * a part of a kubeconfig (named "<path> client-certificate-data" and the like).
 */
function brokenFiles(findings: readonly Finding[]): Set<string> {
  const broken = new Set<string>();
  for (const finding of findings) {
    if (finding.severity !== "error" || !BREAKING_CHECKS.has(finding.check)) continue;
    for (const { file, key } of CERTIFICATE_FILES) {
      if (finding.path === file || finding.path === key || finding.path.startsWith(`${file} `)) broken.add(file);
    }
  }
  return broken;
}

function certificateLabels(row: CertificateRow): Record<CertificateLabel, string> {
  // A kubeconfig's client certificate, labelled as the exporter's kubeconfig source labels it.
  const embedded = row.kubeconfigUser !== undefined;
  return {
    filename: baseName(row.path),
    filepath: row.path,
    embedded_kind: embedded ? "user" : "",
    embedded_key: row.kubeconfigUser ?? "",
    serial_number: decimalSerial(row.serialNumber),
    ...nameLabels("issuer", row.names.issuer),
    ...nameLabels("subject", row.names.subject),
  };
}

function nameLabels(prefix: "issuer" | "subject", fields: NameFields): Record<`${typeof prefix}_${keyof NameFields}`, string> {
  return {
    [`${prefix}_C`]: fields.C ?? "",
    [`${prefix}_ST`]: fields.ST ?? "",
    [`${prefix}_L`]: fields.L ?? "",
    [`${prefix}_O`]: fields.O ?? "",
    [`${prefix}_OU`]: fields.OU ?? "",
    [`${prefix}_CN`]: fields.CN ?? "",
  } as Record<`${typeof prefix}_${keyof NameFields}`, string>;
}

/** The exporter labels the serial in decimal (Go's big.Int String()); node:crypto gives hex. */
function decimalSerial(hex: string): string {
  return /^[0-9A-Fa-f]+$/.test(hex) ? BigInt(`0x${hex}`).toString(10) : "";
}

function baseName(file: string): string {
  return file.slice(file.lastIndexOf("/") + 1);
}
