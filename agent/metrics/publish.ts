// The hooks apply and verify call when a run is over: its metrics file, written into the
// configured textfile collector directory ("" writes none). A file that cannot be written
// is a warning on standard error and a "metrics not written" journal entry, never a change
// to the run's outcome or exit code: those say what happened to the node, not to its
// monitoring. Prometheus sees it too, as a verify file that stops getting newer.

import * as fs from "node:fs";
import type { ApplyReport } from "../apply/apply.ts";
import { INSTALL_RECORD, type InstallRecord } from "../apply/desired-state.ts";
import type { HostRoot } from "../hostfs/host-root.ts";
import { SYSTEM_DEPTH } from "../placement/policy.ts";
import { say } from "../report/console.ts";
import type { Reporter } from "../report/events.ts";
import { METRICS_FILE_NAMES, type MetricsFile } from "./families.ts";
import { applyMetricsText, verifyMetricsText, type VerifyRun } from "./run-files.ts";
import { writeTextfile } from "./textfile.ts";

export function publishVerifyMetrics(host: HostRoot, directory: string, run: VerifyRun, reporter: Reporter): void {
  publish(host, directory, "verify", () => verifyMetricsText(run), reporter);
}

/** The bundle identity comes from the install record, so a failed apply still names the bundle the node holds. */
export function publishApplyMetrics(host: HostRoot, directory: string, report: ApplyReport, reporter: Reporter): void {
  publish(host, directory, "apply", () => applyMetricsText(report, installedBundle(host)), reporter);
}

function publish(host: HostRoot, directory: string, file: MetricsFile, text: () => string, reporter: Reporter): void {
  if (directory === "") return;
  const target = `${directory}/${METRICS_FILE_NAMES[file]}`;
  try {
    writeTextfile(host, directory, METRICS_FILE_NAMES[file], text());
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    say(`warning: metrics not written: ${reason}`);
    reporter.emit("metricsNotWritten", `typhoon-agent could not write its metrics to ${target}: ${reason}`, { TYPHOON_PATH: target, TYPHOON_ERROR: reason });
  }
}

const SHA256 = /^[0-9a-f]{64}$/;

/** The bundle the install record names; undefined for a worker, an older agent's record, or none. */
function installedBundle(host: HostRoot): string | undefined {
  try {
    const record = JSON.parse(fs.readFileSync(host.file(INSTALL_RECORD, SYSTEM_DEPTH), "utf8")) as Partial<InstallRecord> | null;
    const sha256 = record?.bundle?.sha256;
    return typeof sha256 === "string" && SHA256.test(sha256) ? sha256 : undefined;
  } catch {
    return undefined; // no record, or one that is not the agent's: the node names no bundle
  }
}
