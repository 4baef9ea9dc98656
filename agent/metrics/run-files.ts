// The two files' contents, as pure functions of a finished run: verify's (its certificates
// and its own health) and apply's (its health and the bundle the node holds afterwards).

import type { ApplyReport } from "../apply/apply.ts";
import type { VerifyReport } from "../verify/verify.ts";
import { certificateSamples } from "./certificates.ts";
import { exposition, type Sample } from "./exposition.ts";
import { APPLY_OUTCOMES, VERIFY_OUTCOMES } from "./families.ts";

export interface VerifyRun {
  /** When the check ran: the time its days-left were counted from. */
  checkedAt: Date;
  durationSeconds: number;
  exitCode: number;
  /** Absent when verify stopped before checking (no install record, an unreadable one). */
  report?: VerifyReport;
}

export function verifyMetricsText(run: VerifyRun): string {
  const { report } = run;
  const count = (severity: string): number => report?.findings.filter((finding) => finding.severity === severity).length ?? 0;
  return exposition({
    ...(report === undefined ? {} : certificateSamples(report.certificates, report.findings, run.checkedAt)),
    verifyLastRun: [{ value: run.checkedAt.getTime() / 1000 }],
    verifyDuration: [{ value: run.durationSeconds }],
    verifyExitCode: [{ value: run.exitCode }],
    verifyOutcome: stateSet(VERIFY_OUTCOMES, run.exitCode === 0 ? "ok" : "failed"),
    // Without a report nothing was checked: no count, rather than a count of 0 that reads as healthy.
    ...(report === undefined ? {} : { verifyFindings: ["error", "warning"].map((severity) => ({ labels: { severity }, value: count(severity) })) }),
  });
}

/** `installedBundle` is what the install record names after the run, whatever the run's outcome. */
export function applyMetricsText(report: ApplyReport, installedBundle: string | undefined): string {
  if (report.outcome === "planned") throw new Error("internal: plan changes nothing and writes no metrics");
  const outcome = report.outcome;
  return exposition({
    applyLastRun: [{ value: Date.parse(report.finishedAt) / 1000 }],
    applyDuration: [{ value: report.durationMs / 1000 }],
    applyExitCode: [{ value: report.exitCode }],
    applyOutcome: stateSet(APPLY_OUTCOMES, outcome),
    bundleInfo: installedBundle === undefined ? [] : [{ labels: { sha256: installedBundle }, value: 1 }],
  });
}

/** One series per possible outcome, 1 for the run's: a query never depends on a series appearing. */
function stateSet(outcomes: readonly string[], current: string): Sample[] {
  return outcomes.map((outcome) => ({ labels: { outcome }, value: outcome === current ? 1 : 0 }));
}
