// Finishing what a dead run left: the transaction its record names (a "prepare" record is
// rolled back, a "commit" record rolled forward), and the temp and undo files of a run that
// died before its record was durable. Recovery must never wedge the node: a record that
// cannot be read, or whose steps can no longer be taken (a target that became a directory,
// a path too long, a parent that is now a file), is set aside under a name that says so and
// reported with the step to take by hand (exit 74); the next run starts from the tree as it is.

import * as fs from "node:fs";
import { AgentError, ExitCode, messageOf } from "../errors.ts";
import { syncFilesystems } from "../fsio/durability.ts";
import { formatMode } from "../fsio/ownership.ts";
import { listIfExists, removeIfPresent } from "../fsio/read-only.ts";
import { realChild, type HostPath, type HostRoot, type RealPath } from "../hostfs/host-root.ts";
import { STATE_DIRECTORY, TRANSACTION_RECORD } from "../paths.ts";
import { isSiblingName, isTransactionId, newTransactionId } from "./names.ts";
import { finish, readRecord, realStep, removeRecord, type TransactionRecord } from "./record.ts";
import { commitStep, directoryOf, undoPreparedStep, type RecordedStep } from "./steps.ts";
import { shellWord, shellWords } from "../shell-word.ts";

export interface Recovery {
  id: string;
  /** "rolled back" for a transaction that had not started its renames, "completed" otherwise. */
  outcome: "rolled back" | "completed";
  /** The interrupted apply's backup (a rollback's transaction has none): deleted with it when rolled back, what undoes it when completed. */
  backup?: HostPath;
}

/** `state.<id>.unrecoverable.json`: a record no run could complete, kept for the operator. */
const SET_ASIDE = /^state\.(\d{8}T\d{9}Z)\.unrecoverable\.json$/;

/** Finishes a transaction a dead process left behind; undefined when there was none. */
export function recoverInterrupted(host: HostRoot): Recovery | undefined {
  const found = readRecord(host);
  if (found === undefined) return undefined;
  if ("unreadable" in found) throw setAside(host, undefined, undefined, found.unreadable);
  const { record } = found;
  // The shell command for the step being taken, in case it fails and has to be taken by hand.
  let taking: string | undefined;
  const take = (command: string, work: () => void): void => {
    taking = command;
    work();
    taking = undefined;
  };
  try {
    const steps = record.steps.map((step) => realStep(host, step));
    if (record.phase === "prepare") {
      for (const step of [...steps].reverse()) take(undoCommand(step), () => undoPreparedStep(step));
      const backup = record.backup === undefined ? undefined : host.file(record.backup);
      if (backup !== undefined) take(`rm -f -- ${shellWord(backup)}`, () => removeIfPresent(backup));
      removeRecord(host);
      return { id: record.id, outcome: "rolled back", ...backupOf(record) };
    }
    for (const step of steps) if (isPending(step)) take(commitCommand(step), () => commitStep(step));
    take("sync", () => syncFilesystems([host.directory(STATE_DIRECTORY), ...steps.map(directoryOf).filter((directory) => fs.existsSync(directory))]));
    const undos = steps.flatMap((step) => (step.kind === "remove" || (step.kind === "write" && step.undo !== undefined) ? [step.undo!] : []));
    take(`rm -rf -- ${shellWords(...undos)}`, () => finish(host, steps));
    return { id: record.id, outcome: "completed", ...backupOf(record) };
  } catch (error) {
    throw setAside(host, record, taking, error instanceof AgentError ? error.message : messageOf(error));
  }
}

function backupOf(record: TransactionRecord): Pick<Recovery, "backup"> {
  return record.backup === undefined ? {} : { backup: record.backup };
}

/** A commit step a dead run had not yet carried out. */
function isPending(step: RecordedStep): boolean {
  switch (step.kind) {
    case "write":
      return fs.existsSync(step.temp);
    case "remove":
      return fs.existsSync(step.target) && !fs.existsSync(step.undo);
    case "chmod":
      return fs.existsSync(step.target);
    case "mkdir":
      return false;
  }
}

/** What commitStep does, as a shell command. */
function commitCommand(step: RecordedStep): string {
  switch (step.kind) {
    case "write":
      return `mv -- ${shellWords(step.temp, step.target)}`;
    case "remove":
      return `mv -- ${shellWords(step.target, step.undo)}`;
    case "chmod":
      return `chown ${step.uid}:${step.gid} -- ${shellWord(step.target)} && chmod ${formatMode(step.mode)} -- ${shellWord(step.target)}`;
    case "mkdir":
      return "true";
  }
}

/** What undoPreparedStep does, as a shell command. */
function undoCommand(step: RecordedStep): string {
  if (step.kind === "mkdir") return `rmdir -- ${shellWord(step.target)}`;
  if (step.kind === "write") return `rm -f -- ${shellWords(step.temp, ...(step.undo === undefined ? [] : [step.undo]))}`;
  return "true";
}

/**
 * Moves the record to `state.<id>.unrecoverable.json` and returns the error that reports it:
 * what failed, where the record went, and the step to take by hand.
 */
function setAside(host: HostRoot, record: TransactionRecord | undefined, command: string | undefined, problem: string): AgentError {
  const id = record !== undefined && isTransactionId(record.id) ? record.id : newTransactionId();
  const kept = `${STATE_DIRECTORY}/state.${id}.unrecoverable.json`;
  const real = host.file(kept);
  let moved: boolean;
  try {
    fs.renameSync(host.file(TRANSACTION_RECORD), real);
    moved = true;
  } catch {
    moved = false;
  }
  const what = record === undefined ? `the transaction record ${TRANSACTION_RECORD} cannot be read: ${problem}` : `the transaction ${id} an interrupted run left in ${TRANSACTION_RECORD} cannot be completed: ${problem}`;
  const where = moved ? `; the record is set aside as ${kept}, and the next run starts from the tree as it is` : "; moving the record aside failed too";
  const byHand = command === undefined ? [] : [`the step the agent could not take, by hand once its way is clear: ${command}`];
  const then = moved ? `inspect the paths the record names, and rm -r -- ${shellWord(real)} once done` : `move the record aside by hand (mv -- ${shellWords(host.file(TRANSACTION_RECORD), real)}), then run the command again`;
  return new AgentError(ExitCode.ioError, `${what}${where}`, [...byHand, then].join("; "), TRANSACTION_RECORD);
}

/** What recoverInterrupted would do, without doing it (plan changes nothing). */
export function pendingRecovery(host: HostRoot): { id: string; outcome: Recovery["outcome"] | "set aside" } | undefined {
  const found = readRecord(host);
  if (found === undefined) return undefined;
  if ("unreadable" in found) return { id: TRANSACTION_RECORD, outcome: "set aside" };
  return { id: found.record.id, outcome: found.record.phase === "prepare" ? "rolled back" : "completed" };
}

/** Host paths of the records set aside by earlier runs, for the operator to inspect. */
export function setAsideRecords(host: HostRoot): HostPath[] {
  return listIfExists(host.directory(STATE_DIRECTORY), STATE_DIRECTORY)
    .filter((name) => SET_ASIDE.test(name))
    .sort()
    .map((name) => `${STATE_DIRECTORY}/${name}`);
}

/** Removes temp and undo files no record accounts for (a record lost before its first flush) in host `directories`. */
export function removeStrayFiles(host: HostRoot, directories: Iterable<HostPath>): RealPath[] {
  const removed: RealPath[] = [];
  for (const hostDirectory of directories) {
    const directory = host.directory(hostDirectory);
    for (const entry of listIfExists(directory, hostDirectory)) {
      if (!isSiblingName(entry)) continue;
      const stray = realChild(directory, entry);
      fs.rmSync(stray, { recursive: true, force: true });
      removed.push(stray);
    }
  }
  return removed;
}
