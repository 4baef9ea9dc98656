// The hooks apply and verify call when a run is over: its metrics file, written into the
// configured textfile collector directory ("" writes none). A file that cannot be written
// is a warning on standard error and a "metrics not written" journal entry, never a change
// to the run's outcome or exit code: those say what happened to the node, not to its
// monitoring. Prometheus sees it too, as a verify file that stops getting newer.

import { AgentError, InternalError } from "../errors.ts";
import type { HostPath, HostRoot } from "../hostfs/host-root.ts";
import { installedBundleSha256 } from "../plan/install-record.ts";
import type { ApplyResult } from "../report/apply-result.ts";
import { say } from "../report/console.ts";
import type { EventLog } from "../report/events.ts";
import { METRICS_FILE_NAMES, type MetricsFile } from "./families.ts";
import { applyMetricsText, verifyMetricsText, type VerifyRun } from "./run-files.ts";
import { writeTextfile } from "./textfile.ts";

export function publishVerifyMetrics(host: HostRoot, directory: HostPath, run: VerifyRun, events: EventLog): void {
  publish(host, directory, "verify", () => verifyMetricsText(run), events);
}

/**
 * The bundle comes from the install record as the run left it, so a failed apply still
 * names the bundle the node holds; a record that cannot be read leaves the file unwritten.
 */
export function publishApplyMetrics(host: HostRoot, directory: HostPath, result: ApplyResult, events: EventLog): void {
  publish(host, directory, "apply", () => applyMetricsText(result, installedBundleSha256(host)), events);
}

function publish(host: HostRoot, directory: HostPath, file: MetricsFile, text: () => string, events: EventLog): void {
  if (directory === "") return;
  const target = `${directory}/${METRICS_FILE_NAMES[file]}`;
  try {
    writeTextfile(host, directory, METRICS_FILE_NAMES[file], text());
  } catch (error) {
    // A bug is named as one, and still leaves the run's outcome alone.
    const reason = (error instanceof AgentError ? error : new InternalError(error)).message;
    say(`warning: metrics not written: ${reason}`);
    events.emit("metricsNotWritten", `typhoon-agent could not write its metrics to ${target}: ${reason}`, { TYPHOON_PATH: target, TYPHOON_ERROR: reason });
  }
}
