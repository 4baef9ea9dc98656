// The transaction record (/var/lib/typhoon-agent/state.json): written before the first
// change ("prepare") and again, durably, before the first rename ("commit"); removed when
// the transaction is finished or rolled back. A run that dies leaves it, and the next apply
// or rollback finishes that transaction first: a "prepare" record is rolled back, a "commit"
// record rolled forward, since every temp file it names was on disk before the first rename.
// Steps are recorded on host paths, without content, and resolved through HostRoot again.

import * as fs from "node:fs";
import { AgentError, ExitCode, attempt } from "../errors.ts";
import { fsyncPath, syncFilesystems } from "../fsio/durability.ts";
import { listIfExists, readTextIfExists } from "../fsio/read-only.ts";
import { writeNewFile } from "../fsio/write-all.ts";
import { realChild, type HostPath, type HostRoot, type RealPath } from "../hostfs/host-root.ts";
import { STATE_DIRECTORY, TRANSACTION_RECORD } from "../paths.ts";
import { isSiblingName } from "./names.ts";
import { commitStep, directoryOf, undoPreparedStep, type RecordedStep, type Step } from "./steps.ts";

const RECORD_VERSION = 1;

export interface TransactionRecord {
  version: number;
  id: string;
  phase: "prepare" | "commit";
  startedAt: string;
  backup: HostPath | undefined;
  steps: Array<RecordedStep<HostPath>>;
}

export interface Recovery {
  id: string;
  /** "rolled back" for a transaction that had not started its renames, "completed" otherwise. */
  outcome: "rolled back" | "completed";
}

/** The step as the record keeps it: without content, on host paths. */
export function recordStep(host: HostRoot, step: Step): RecordedStep<HostPath> {
  const shown = (real: RealPath): HostPath => host.display(real);
  if (step.kind !== "write") return mapPaths(step, shown, shown);
  const { content: _content, ...withoutContent } = step;
  return mapPaths(withoutContent, shown, shown);
}

/** A recorded step back on real paths, through the path layer like any other host path. */
function realStep(host: HostRoot, step: RecordedStep<HostPath>): RecordedStep {
  return mapPaths(
    step,
    (file) => host.file(file),
    (directory) => host.directory(directory),
  );
}

/** `file` maps what a step names by its entry (a file, or a directory it removes), `directory` what it works inside. */
function mapPaths<From extends string, To extends string>(step: RecordedStep<From>, file: (path: From) => To, directory: (path: From) => To): RecordedStep<To> {
  switch (step.kind) {
    case "write":
      return { ...step, target: file(step.target), temp: file(step.temp), undo: step.undo === undefined ? undefined : file(step.undo) };
    case "remove":
      return { ...step, target: file(step.target), undo: file(step.undo) };
    default:
      return { ...step, target: directory(step.target) };
  }
}

/**
 * Writes the record via a temp file and rename. A durable write first flushes the
 * filesystems of `flushAlso` (and the record's own), then makes the rename durable.
 */
export function writeRecord(host: HostRoot, record: TransactionRecord, durable: boolean, flushAlso: readonly string[] = []): void {
  const file = host.file(TRANSACTION_RECORD);
  const temp = `${file}.tmp`;
  attempt("write", TRANSACTION_RECORD, () => {
    fs.rmSync(temp, { force: true }); // what a run that died while writing it left
    writeNewFile(temp, `${JSON.stringify(record, null, 1)}\n`, 0o600);
    if (durable) syncFilesystems([temp, ...flushAlso]);
    fs.renameSync(temp, file);
    // Only the rename is new since the flush: the directory's own fsync covers it.
    if (durable) fsyncPath(host.directory(STATE_DIRECTORY));
  });
}

function readRecord(host: HostRoot): TransactionRecord | undefined {
  const text = readTextIfExists(host.file(TRANSACTION_RECORD), "read", TRANSACTION_RECORD);
  if (text === undefined) return undefined;
  let record: TransactionRecord;
  try {
    record = JSON.parse(text) as TransactionRecord;
  } catch (error) {
    throw new AgentError(ExitCode.ioError, `${TRANSACTION_RECORD} is not valid JSON`, "inspect it; delete it only if no apply is running", undefined, { cause: error });
  }
  if (record.version !== RECORD_VERSION || !Array.isArray(record.steps)) {
    throw new AgentError(ExitCode.ioError, `${TRANSACTION_RECORD} was written by an unknown agent version (${String(record.version)})`);
  }
  return record;
}

export function removeRecord(host: HostRoot): void {
  const file = host.file(TRANSACTION_RECORD);
  fs.rmSync(file, { force: true });
  fs.rmSync(`${file}.tmp`, { force: true });
}

/** Drops what only existed to undo the transaction, then its record. */
export function finish(host: HostRoot, steps: readonly RecordedStep[]): void {
  for (const step of steps) {
    if ((step.kind === "write" && step.undo !== undefined) || step.kind === "remove") {
      const undo = step.undo!;
      attempt("remove", host.display(undo), () => fs.rmSync(undo, { recursive: true, force: true }));
    }
  }
  removeRecord(host);
}

/** Finishes a transaction a dead process left behind; undefined when there was none. */
export function recoverInterrupted(host: HostRoot): Recovery | undefined {
  const record = readRecord(host);
  if (record === undefined) return undefined;
  const steps = record.steps.map((step) => realStep(host, step));
  if (record.phase === "prepare") {
    for (const step of [...steps].reverse()) undoPreparedStep(step);
    if (record.backup !== undefined) fs.rmSync(host.file(record.backup), { force: true });
    removeRecord(host);
    return { id: record.id, outcome: "rolled back" };
  }
  for (const step of steps) {
    const pending =
      (step.kind === "write" && fs.existsSync(step.temp)) ||
      (step.kind === "remove" && fs.existsSync(step.target) && !fs.existsSync(step.undo)) ||
      (step.kind === "chmod" && fs.existsSync(step.target));
    if (pending) commitStep(step);
  }
  syncFilesystems([host.directory(STATE_DIRECTORY), ...steps.map(directoryOf).filter((directory) => fs.existsSync(directory))]);
  finish(host, steps);
  return { id: record.id, outcome: "completed" };
}

/** What recoverInterrupted would do, without doing it (plan changes nothing). */
export function pendingRecovery(host: HostRoot): Recovery | undefined {
  const record = readRecord(host);
  return record === undefined ? undefined : { id: record.id, outcome: record.phase === "prepare" ? "rolled back" : "completed" };
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
