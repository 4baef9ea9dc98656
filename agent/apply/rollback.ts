// `typhoon-agent rollback`: restores the newest backup, i.e. undoes the last apply. Files
// the apply replaced or removed come back from the backup with their content, owner, mode
// and mtime; files and directories it created are removed; directory modes it repaired are
// restored. The restore is itself a transaction (transaction/), so it is all or nothing,
// and the backup is consumed: the next rollback undoes the apply before. On the real host a
// restored kubelet.service or kubelet.yaml also restarts a running kubelet (kubelet.ts).
// An apply a dead process left half-done is the last apply: when recovery rolls it back, that
// was the undo asked for and rollback stops; when recovery completes it, its own backup undoes it.

import * as fs from "node:fs";
import * as path from "node:path";
import { AgentError, ExitCode, attempt } from "../errors.ts";
import { ownershipOf } from "../fsio/ownership.ts";
import { statIfExists } from "../fsio/read-only.ts";
import { realChild, type HostPath, type HostRoot, type RealPath } from "../hostfs/host-root.ts";
import { BACKUP_DIRECTORY, LOCK_FILE, STATE_DIRECTORY } from "../paths.ts";
import { logKubelet, logRestored } from "../report/apply-journal.ts";
import type { EventLog } from "../report/events.ts";
import { catchSignals } from "../transaction/guard.ts";
import { SiblingNames, newTransactionId } from "../transaction/names.ts";
import { chmodStep, mkdirStep, removeStep, writeStep, type Step } from "../transaction/steps.ts";
import type { Recovery } from "../transaction/recovery.ts";
import { runTransaction } from "../transaction/transaction.ts";
import { KUBELET_SERVICE_PATH } from "../units/kubelet-service.ts";
import { NODE_FILE_PATHS } from "../units/node-files.ts";
import { newestBackup, readBackup, type Backup } from "./backup.ts";
import { settleKubelet, type KubeletChange } from "./kubelet.ts";
import { acquireLock, type HeldLock } from "./lock.ts";
import { refuseForeignObjects } from "./rollback-guard.ts";
import { recoverAndLog } from "./state.ts";

export interface RollbackResult {
  /** The backup restored; absent when recovery had already undone the last apply. */
  backup?: string;
  restored: string[];
  removed: string[];
  /** The interrupted transaction a dead run left, finished first. */
  recovered?: Recovery;
  /** When the rollback stopped at undoing an interrupted apply: the backup the next rollback restores, if any. */
  next?: string;
  /** What systemctl did to kubelet.service, when the rollback touched its files. */
  kubelet?: string;
  durationMs: number;
}

interface RollbackOptions {
  lockWaitSeconds: number;
  /** Reload systemd and restart (or stop) the kubelet when its files changed; never under --root. */
  settleKubelet: boolean;
}

export async function runRollback(host: HostRoot, events: EventLog, options: RollbackOptions): Promise<RollbackResult> {
  const started = performance.now();
  const stateDirectory = host.directory(STATE_DIRECTORY);
  if (!fs.existsSync(stateDirectory)) throw noBackup();
  // Caught for the whole run: before the transaction a signal ends it with nothing changed,
  // inside it the transaction takes back what it did, after it the rollback finishes.
  const signals = catchSignals();
  let lock: HeldLock | undefined;
  try {
    lock = await acquireLock(host.file(LOCK_FILE), options.lockWaitSeconds);
    const recovered = recoverAndLog(host, events);
    const found = { ...(recovered === undefined ? {} : { recovered }), durationMs: 0 };
    if (undidAnApply(recovered)) {
      // The last apply was the interrupted one, and recovery took it back: that is the rollback asked for.
      const next = newestBackup(host.directory(BACKUP_DIRECTORY));
      return { ...found, restored: [], removed: [], ...(next === undefined ? {} : { next: host.display(next) }), durationMs: elapsed(started) };
    }
    const file = backupToRestore(host, recovered);
    const backup = await readBackup(host, file);
    refuseForeignObjects(host, backup);
    const id = newTransactionId();
    const { steps, restored, removed } = restoreSteps(host, backup, id);
    await signals.checkpoint();
    await runTransaction({ host, id, steps, command: "rollback" });
    attempt("remove the used backup", host.display(file), () => fs.rmSync(file));
    logRestored(events, host.display(file), path.basename(file), { restored: restored.length, removed: removed.length });
    const result: RollbackResult = { ...found, backup: host.display(file), restored, removed };
    const change = kubeletChange(restored, removed);
    if (options.settleKubelet && change !== "unchanged") {
      result.kubelet = await settleKubelet("rollback", change);
      logKubelet(events, result.kubelet);
    }
    result.durationMs = elapsed(started);
    return result;
  } finally {
    lock?.release();
    signals.release();
  }
}

function elapsed(started: number): number {
  return Math.round(performance.now() - started);
}

function undidAnApply(recovered: Recovery | undefined): boolean {
  return recovered?.outcome === "rolled back" && recovered.backup !== undefined;
}

/**
 * An interrupted apply that recovery completed is the last apply, undone from its own backup;
 * otherwise the newest backup is the last apply's.
 */
function backupToRestore(host: HostRoot, recovered: Recovery | undefined): RealPath {
  if (recovered?.outcome === "completed" && recovered.backup !== undefined) return host.file(recovered.backup);
  const file = newestBackup(host.directory(BACKUP_DIRECTORY));
  if (file === undefined) throw noBackup();
  return file;
}

function kubeletChange(restored: readonly HostPath[], removed: readonly HostPath[]): KubeletChange {
  if (removed.includes(KUBELET_SERVICE_PATH)) return "removed";
  return [...restored, ...removed].some((file) => NODE_FILE_PATHS.includes(file)) ? "changed" : "unchanged";
}

function noBackup(): AgentError {
  return new AgentError(ExitCode.noInput, `no backup to roll back to under ${BACKUP_DIRECTORY}`);
}

/** The steps that turn the host back into the tree the backup was taken from, and the host paths they restore and remove. */
function restoreSteps(host: HostRoot, backup: Backup, id: string): { steps: Step[]; restored: HostPath[]; removed: HostPath[] } {
  const names = new SiblingNames(id);
  const steps: Step[] = [];
  const restored: HostPath[] = [];
  const removed: HostPath[] = [];
  const directories = backup.entries.filter((entry) => entry.type === "directory").sort((a, b) => a.path.length - b.path.length);
  for (const entry of directories) {
    restored.push(entry.path);
    const target = host.directory(entry.path);
    const current = statIfExists(target);
    steps.push(current === undefined ? mkdirStep(target, entry) : chmodStep(target, entry, ownershipOf(current)));
  }
  for (const entry of backup.entries) {
    if (entry.type !== "file") continue;
    restored.push(entry.path);
    const target = host.file(entry.path);
    steps.push(writeStep(names, target, entry.content, entry, { replacing: statIfExists(target) !== undefined, mtimeMs: entry.mtime.getTime() }));
  }
  const remove = (entry: HostPath, target: RealPath): void => {
    removed.push(entry);
    steps.push(removeStep(names, target));
  };
  for (const file of backup.manifest.createdFiles) {
    const target = host.file(file);
    if (statIfExists(target) !== undefined) remove(file, target);
  }
  // A directory the apply created goes too, unless something else has been put in it since.
  const created = new Set([...backup.manifest.createdFiles, ...backup.manifest.createdDirectories]);
  for (const directory of [...backup.manifest.createdDirectories].sort((a, b) => b.length - a.length)) {
    const target = host.file(directory);
    if (statIfExists(target) !== undefined && onlyHolds(target, directory, created)) remove(directory, target);
  }
  return { steps, restored, removed };
}

function onlyHolds(realDirectory: RealPath, hostDirectory: HostPath, created: ReadonlySet<HostPath>): boolean {
  return attempt("list", hostDirectory, () => fs.readdirSync(realDirectory)).every((name) => {
    const child = `${hostDirectory}/${name}`;
    if (!created.has(child)) return false;
    const real = realChild(realDirectory, name);
    return !fs.lstatSync(real).isDirectory() || onlyHolds(real, child, created);
  });
}
