// The agent's own state directory (/var/lib/typhoon-agent) around an apply: created first,
// so even a refused bundle leaves its result.json; locked, so one apply runs at a time; and
// cleared of what a dead run left (its transaction finished first, its temp files removed).

import * as fs from "node:fs";
import { AgentError, attempt, fromSystemError, isSystemError } from "../errors.ts";
import { writeNewFile } from "../fsio/write-all.ts";
import { realParent, type HostRoot, type RealPath } from "../hostfs/host-root.ts";
import { LOCK_FILE, RESULT_FILE, STATE_DIRECTORY } from "../paths.ts";
import type { DesiredState } from "../plan/desired-state.ts";
import { logRecovered } from "../report/apply-journal.ts";
import type { ApplyResult } from "../report/apply-result.ts";
import type { EventLog } from "../report/events.ts";
import { pendingRecovery, recoverInterrupted, removeStrayFiles, type Recovery } from "../transaction/record.ts";
import { acquireLock, type HeldLock } from "./lock.ts";

/** Creates the state directory and its missing parents; returns the real paths it created. */
export function claimStateDirectory(host: HostRoot): Set<RealPath> {
  const stateDirectory = host.directory(STATE_DIRECTORY);
  const created = new Set<RealPath>();
  attempt("create", stateDirectory, () => {
    for (let directory = stateDirectory; !fs.existsSync(directory); directory = realParent(directory)) created.add(directory);
    fs.mkdirSync(realParent(stateDirectory), { recursive: true, mode: 0o755 });
    fs.mkdirSync(stateDirectory, { recursive: true, mode: 0o700 });
  });
  return created;
}

/**
 * Takes the apply lock, finishes a transaction a dead run left (and says so), and removes
 * the temp files of one that died before its record was durable. The caller releases the lock.
 */
export function takeOverState(host: HostRoot, desired: DesiredState, lockWaitSeconds: number, result: ApplyResult, events: EventLog): HeldLock {
  const lock = acquireLock(host.file(LOCK_FILE), lockWaitSeconds);
  try {
    const recovered = recoverAndLog(host, events);
    if (recovered !== undefined) {
      result.recovered = recovered;
      result.warnings.push(`an interrupted transaction (${recovered.id}) was ${recovered.outcome} first`);
    }
    removeStrayFiles(host, new Set(desired.directories.map((directory) => directory.path)));
    return lock;
  } catch (error) {
    lock.release();
    throw error;
  }
}

/** plan changes nothing: it only says what the next apply will finish first. */
export function warnPendingRecovery(host: HostRoot, result: ApplyResult): void {
  const pending = pendingRecovery(host);
  if (pending !== undefined) {
    result.warnings.push(`an interrupted transaction (${pending.id}) will be ${pending.outcome} first by the next apply; this plan starts from the tree as it is now`);
  }
}

/** Finishes a transaction a dead process left behind (apply and rollback both), and says so. */
export function recoverAndLog(host: HostRoot, events: EventLog): Recovery | undefined {
  const recovered = recoverInterrupted(host);
  if (recovered !== undefined) logRecovered(events, recovered);
  return recovered;
}

/**
 * /var/lib/typhoon-agent/result.json, like Ignition's result file: written atomically, 0600.
 * A host that cannot take it (a full disk) gets a warning in the printed result: the outcome
 * was already reported to the journal, and must not turn from success into failure.
 */
export function writeResult(host: HostRoot, result: ApplyResult): void {
  try {
    if (!fs.existsSync(host.directory(STATE_DIRECTORY))) return;
    const file = host.file(RESULT_FILE);
    fs.rmSync(`${file}.tmp`, { force: true }); // what a run that died while writing it left
    writeNewFile(`${file}.tmp`, `${JSON.stringify(result, null, 2)}\n`, 0o600);
    fs.renameSync(`${file}.tmp`, file);
  } catch (error) {
    if (!(error instanceof AgentError) && !isSystemError(error)) throw error;
    result.warnings.push(fromSystemError(error, "write", RESULT_FILE).message);
  }
}
