// After the commit: the journal gets an entry per action, the newest backups are kept, the
// consumed bundle goes, and the kubelet is brought in line with its files.

import * as fs from "node:fs";
import { AgentError, describeErrno, isSystemError } from "../errors.ts";
import { BACKUP_DIRECTORY } from "../paths.ts";
import { logAction, logKubelet } from "../report/apply-journal.ts";
import type { ApplyResult } from "../report/apply-result.ts";
import type { EventLog } from "../report/events.ts";
import { NODE_FILE_PATHS } from "../units/node-files.ts";
import type { ApplyRequest } from "./request.ts";
import { pruneBackups } from "./backup.ts";
import { settleKubelet } from "./kubelet.ts";
import { shellWord, shellWords } from "../shell-word.ts";

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
 * A symlink is never followed to delete (its target may be anywhere, a copy kept on purpose),
 * so both stay and a warning says so; another hard link keeps the content, and a warning says that.
 */
function consumeBundle(request: ApplyRequest, result: ApplyResult): void {
  const bundle = request.bundle;
  if (bundle === undefined || bundle === "-" || request.keepBundle) return;
  try {
    const stat = fs.lstatSync(bundle);
    if (stat.isSymbolicLink()) {
      const target = fs.realpathSync(bundle);
      result.warnings.push(`the bundle ${bundle} is a symbolic link to ${target}; the agent removes no file through a link, so both were kept: they hold every secret of the cluster, remove them by hand (rm -- ${shellWords(target, bundle)})`);
      return;
    }
    if (!stat.isFile()) return;
    fs.rmSync(bundle);
    const others = stat.nlink - 1;
    if (others > 0) result.warnings.push(`the bundle ${bundle} had ${others} other hard link${others === 1 ? "" : "s"} (inode ${stat.ino}); the secrets stay readable through ${others === 1 ? "it" : "them"}: find / -inum ${stat.ino}, then remove ${others === 1 ? "it" : "them"}`);
  } catch (error) {
    // Installed either way: a bundle that stays is the operator's to remove, not a failed apply.
    if (!isSystemError(error)) throw error;
    result.warnings.push(`could not remove the bundle ${bundle}: ${describeErrno(error.code)}; it holds every secret of the cluster: remove it by hand (rm -- ${shellWord(bundle)})`);
  }
}
