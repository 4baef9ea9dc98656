// After the commit: the journal gets an entry per action, the newest backups are kept, the
// consumed bundle goes, and the kubelet is brought in line with its files.

import * as fs from "node:fs";
import { AgentError, isSystemError } from "../errors.ts";
import { BACKUP_DIRECTORY } from "../paths.ts";
import { logAction, logKubelet } from "../report/apply-journal.ts";
import type { ApplyResult } from "../report/apply-result.ts";
import type { EventLog } from "../report/events.ts";
import { NODE_FILE_PATHS } from "../units/node-files.ts";
import type { ApplyRequest } from "./request.ts";
import { pruneBackups } from "./backup.ts";
import { settleKubelet } from "./kubelet.ts";

export async function afterCommit(request: ApplyRequest, result: ApplyResult, events: EventLog): Promise<void> {
  if (result.backup !== undefined) keepNewestBackups(request, result);
  for (const action of result.actions) logAction(events, action);
  consumeBundle(request, result);
  if (request.startKubelet) {
    // A kubelet already running from a replaced unit or configuration must restart to read it.
    const changed = result.actions.some((action) => NODE_FILE_PATHS.includes(action.path) && action.action === "replace");
    result.kubelet = await settleKubelet("apply", changed ? "changed" : "unchanged");
    logKubelet(events, result.kubelet);
  }
}

/** Housekeeping: the host is updated whether or not old backups could be removed, so a failure is a warning. */
function keepNewestBackups(request: ApplyRequest, result: ApplyResult): void {
  try {
    pruneBackups(request.host.directory(BACKUP_DIRECTORY));
  } catch (error) {
    if (!(error instanceof AgentError)) throw error;
    result.warnings.push(`old backups were kept: ${error.message}`);
  }
}

/**
 * The bundle holds every secret of the cluster: once installed, it goes. Only a regular
 * file: a bundle read from a pipe or a device (`<(...)`, /dev/stdin) names no copy to remove.
 */
function consumeBundle(request: ApplyRequest, result: ApplyResult): void {
  if (request.bundle === undefined || request.bundle === "-" || request.keepBundle) return;
  try {
    if (!fs.lstatSync(request.bundle).isFile()) return;
    fs.rmSync(request.bundle);
  } catch (error) {
    // Installed either way: a bundle that stays is the operator's to remove, not a failed apply.
    if (!isSystemError(error)) throw error;
    result.warnings.push(`could not remove the bundle ${request.bundle}: ${error.code}`);
  }
}
