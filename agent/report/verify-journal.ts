// What verify says in the journal: one entry per finding (a certificate's expiry as
// "certificate expiring", anything else as "installed file check failed"), then one
// "verify done" with the certificate that expires first, for a monitoring system.

import type { Finding, VerifyResult } from "../verify/findings.ts";
import type { EventLog } from "./events.ts";
import { summaryLine } from "./verify-table.ts";

export function logFinding(events: EventLog, finding: Finding): void {
  const priority = finding.severity === "error" ? 3 : 4;
  const message = `${finding.path} ${finding.message}`;
  if (finding.certificate !== undefined) {
    const { name, notAfter, daysLeft } = finding.certificate;
    events.emit("certificateExpiring", message, { TYPHOON_CERT: name, TYPHOON_PATH: finding.path, TYPHOON_NOT_AFTER: notAfter, TYPHOON_DAYS_LEFT: daysLeft }, priority);
  } else {
    events.emit("checkFailed", message, { TYPHOON_PATH: finding.path, TYPHOON_CHECK: finding.check, TYPHOON_ERROR: finding.message }, priority);
  }
}

export function logVerifyDone(events: EventLog, result: VerifyResult): void {
  const soonest = [...result.certificates].sort((a, b) => a.daysLeft - b.daysLeft)[0];
  events.emit("verifyDone", `typhoon-agent ${summaryLine(result)}`, {
    TYPHOON_EXIT_CODE: result.exitCode,
    TYPHOON_CERT: soonest?.name,
    TYPHOON_DAYS_LEFT: soonest?.daysLeft,
  });
}
