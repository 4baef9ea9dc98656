// The two files' contents, as pure functions of a finished run: verify's (its certificates
// and its own health) and apply's (its health and the bundle the node holds afterwards).

import type { ApplyResult } from "../report/apply-result.ts";
import type { VerifyResult } from "../verify/findings.ts";
import { certificateSamples } from "./certificates.ts";
import { exposition, type Sample } from "./exposition.ts";
import { APPLY_OUTCOMES, VERIFY_OUTCOMES } from "./families.ts";

export interface VerifyRun {
  /** When the check ran: the time its days-left were counted from. */
  checkedAt: Date;
  durationSeconds: number;
  exitCode: number;
  /** Absent when verify stopped before checking (no install record, an unreadable one). */
  result?: VerifyResult;
}

export function verifyMetricsText(run: VerifyRun): string {
  const { result } = run;
  const count = (severity: string): number => result?.findings.filter((finding) => finding.severity === severity).length ?? 0;
  return exposition({
    ...(result === undefined ? {} : certificateSamples(result.certificates, result.findings, run.checkedAt)),
    verifyLastRun: [{ value: run.checkedAt.getTime() / 1000 }],
    verifyDuration: [{ value: run.durationSeconds }],
    verifyExitCode: [{ value: run.exitCode }],
    verifyOutcome: stateSet(VERIFY_OUTCOMES, run.exitCode === 0 ? "ok" : "failed"),
    // Without a result nothing was checked: no count, rather than a count of 0 that reads as healthy.
    ...(result === undefined ? {} : { verifyFindings: ["error", "warning"].map((severity) => ({ labels: { severity }, value: count(severity) })) }),
  });
}

/** `installedBundle` is what the install record names after the run, whatever the run's outcome. */
export function applyMetricsText(result: ApplyResult, installedBundle: string | undefined): string {
  if (result.outcome === "planned") throw new Error("internal: plan changes nothing and writes no metrics");
  const outcome = result.outcome;
  return exposition({
    applyLastRun: [{ value: Date.parse(result.finishedAt) / 1000 }],
    applyDuration: [{ value: result.durationMs / 1000 }],
    applyExitCode: [{ value: result.exitCode }],
    applyOutcome: stateSet(APPLY_OUTCOMES, outcome),
    bundleInfo: installedBundle === undefined ? [] : [{ labels: { sha256: installedBundle }, value: 1 }],
  });
}

/** One series per possible outcome, 1 for the run's: a query never depends on a series appearing. */
function stateSet(outcomes: readonly string[], current: string): Sample[] {
  return outcomes.map((outcome) => ({ labels: { outcome }, value: outcome === current ? 1 : 0 }));
}
