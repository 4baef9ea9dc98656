// verify's output for people: every certificate with its expiry, like `kubeadm certs
// check-expiration`, then every finding and the command that repairs them, then one summary line.

import type { VerifyResult } from "../verify/findings.ts";
import { formatColumns } from "./format.ts";

export function formatVerifyResult(result: VerifyResult): string {
  const lines: string[] = [];
  if (result.certificates.length > 0) {
    const rows = result.certificates.map((row) => [
      row.name,
      `${row.notAfter.slice(0, 10)} ${row.notAfter.slice(11, 16)} UTC`,
      residualTime(row.daysLeft),
      row.ca ?? "",
      row.status,
      [row.subject, ...row.sans].join("; "),
    ]);
    lines.push(...formatColumns(["CERTIFICATE", "EXPIRES", "RESIDUAL TIME", "CA", "STATUS", "SUBJECT; SANS"], rows, [2]), "");
  }
  for (const finding of result.findings) lines.push(`${finding.severity}: ${finding.path} ${finding.message}`);
  if (result.hint !== undefined) lines.push(`hint: ${result.hint}`);
  lines.push(summaryLine(result));
  return `${lines.join("\n")}\n`;
}

export function summaryLine(result: VerifyResult): string {
  const count = (severity: string): number => result.findings.filter((finding) => finding.severity === severity).length;
  const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? "" : "s"}`;
  return `verify: ${plural(result.files, "installed file")}, ${plural(result.certificates.length, "certificate")}: ${plural(count("error"), "error")}, ${plural(count("warning"), "warning")}`;
}

/** 364d, 29d, expired: kubeadm's RESIDUAL TIME column. */
function residualTime(daysLeft: number): string {
  return daysLeft < 0 ? "expired" : `${daysLeft}d`;
}
