// The agent's own state directory (/var/lib/typhoon-agent) around an apply: created first,
// so even a refused bundle leaves its result.json; locked, so one apply runs at a time; and
// cleared of what a dead run left (its transaction finished first, its temp files removed).

import * as fs from "node:fs";
import { AgentError, attempt, fromSystemError, isSystemError } from "../errors.ts";
import { removeIfPresent, statIfExists } from "../fsio/read-only.ts";
import { writeNewFile } from "../fsio/write-all.ts";
import { realParent, type HostRoot, type RealPath } from "../hostfs/host-root.ts";
import { BACKUP_DIRECTORY, LOCK_FILE, RESULT_FILE, STATE_DIRECTORY, TRANSACTION_RECORD } from "../paths.ts";
import type { DesiredState } from "../plan/desired-state.ts";
import { logRecovered } from "../report/apply-journal.ts";
import { say } from "../report/console.ts";
import type { ApplyResult } from "../report/apply-result.ts";
import type { EventLog } from "../report/events.ts";
import { pendingRecovery, recoverInterrupted, removeStrayFiles, setAsideRecords, type Recovery } from "../transaction/recovery.ts";
import { halfWrittenBackups } from "./backup.ts";
import { acquireLock, lockHeldElsewhere, type HeldLock } from "./lock.ts";

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
export async function takeOverState(host: HostRoot, desired: DesiredState, lockWaitSeconds: number, result: ApplyResult, events: EventLog): Promise<HeldLock> {
  const lock = await acquireLock(host.file(LOCK_FILE), lockWaitSeconds);
  try {
    const recovered = recoverAndLog(host, events);
    if (recovered !== undefined) {
      result.recovered = recovered;
      result.warnings.push(`an interrupted transaction (${recovered.id}) was ${recovered.outcome} first`);
    }
    removeStrayFiles(host, new Set(desired.directories.map((directory) => directory.path)));
    for (const leftover of leftovers(host)) attempt("remove", leftover, () => removeIfPresent(host.file(leftover)));
    warnSetAside(host, result);
    return lock;
  } catch (error) {
    lock.release();
    throw error;
  }
}

/**
 * plan changes nothing: it only says what the next apply will finish first. While another
 * apply or rollback holds the lock, what the state directory holds is that run's, not a dead one's.
 */
export function warnPendingRecovery(host: HostRoot, result: ApplyResult): void {
  if (lockHeldElsewhere(host.file(LOCK_FILE))) {
    result.warnings.push(`another typhoon-agent apply or rollback is running (it holds ${LOCK_FILE}); this plan shows the tree as it is in the middle of that run`);
    return;
  }
  const pending = pendingRecovery(host);
  if (pending?.outcome === "set aside") {
    result.warnings.push(`the transaction record ${pending.id} cannot be read; the next apply sets it aside and starts from the tree as it is`);
  } else if (pending !== undefined) {
    result.warnings.push(`an interrupted transaction (${pending.id}) will be ${pending.outcome} first by the next apply; this plan starts from the tree as it is now`);
  }
  warnSetAside(host, result);
  for (const leftover of leftovers(host)) result.warnings.push(`${leftover} was left half-written by a run that died (or by a full disk); the next apply removes it`);
}

/**
 * The agent's own files a dead run (or a full disk) left half-written: temp files of the
 * result and of the transaction record (a record's is never needed: only state.json is read),
 * and backups never completed. Every apply removes them, changing anything or not.
 */
function leftovers(host: HostRoot): string[] {
  const temps = [`${RESULT_FILE}.tmp`, `${TRANSACTION_RECORD}.tmp`].filter((file) => statIfExists(host.file(file)) !== undefined);
  return [...temps, ...halfWrittenBackups(host.directory(BACKUP_DIRECTORY))];
}

/** A record no run could complete stays until the operator removes it; every plan and apply says so. */
function warnSetAside(host: HostRoot, result: ApplyResult): void {
  for (const record of setAsideRecords(host)) result.warnings.push(`${record} holds a transaction no run could complete; inspect the paths it names, then remove it`);
}

/** Finishes a transaction a dead process left behind (apply and rollback both), and says so. */
export function recoverAndLog(host: HostRoot, events: EventLog): Recovery | undefined {
  const recovered = recoverInterrupted(host);
  if (recovered !== undefined) logRecovered(events, recovered);
  return recovered;
}

/**
 * /var/lib/typhoon-agent/result.json, like Ignition's result file: written atomically, 0600.
 * One that cannot be written leaves the outcome as it is (a full disk must not turn success
 * into failure), and a warning on standard error says why, so the missing file is no mystery.
 */
export function writeResult(host: HostRoot, result: ApplyResult): void {
  let file: RealPath | undefined;
  try {
    if (!fs.existsSync(host.directory(STATE_DIRECTORY))) return;
    file = host.file(RESULT_FILE);
    writeNewFile(`${file}.tmp`, `${JSON.stringify(result, null, 2)}\n`, 0o600);
    fs.renameSync(`${file}.tmp`, file);
  } catch (error) {
    if (!(error instanceof AgentError) && !isSystemError(error)) throw error;
    const failure = fromSystemError(error, "write", RESULT_FILE);
    say(`warning: result not written: ${failure.message}`);
    if (failure.hint !== undefined) say(`hint: ${failure.hint}`);
    // A half-written temp goes now if it can; else the next plan names it and the next apply removes it.
    try {
      if (file !== undefined) removeIfPresent(`${file}.tmp`);
    } catch (cleanup) {
      if (!isSystemError(cleanup)) throw cleanup;
    }
  }
}
