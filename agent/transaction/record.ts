// The transaction record (/var/lib/typhoon-agent/state.json): written before the first
// change ("prepare") and again, durably, before the first rename ("commit"); removed when
// the transaction is finished or rolled back. A run that dies leaves it, and the next apply
// or rollback finishes that transaction first: a "prepare" record is rolled back, a "commit"
// record rolled forward, since every temp file it names was on disk before the first rename
// (recovery.ts). Steps are recorded on host paths, without content, and resolved through
// HostRoot again.

import * as fs from "node:fs";
import * as path from "node:path";
import { attempt } from "../errors.ts";
import { fsyncPath, syncFilesystems } from "../fsio/durability.ts";
import { readTextIfExists, removeIfPresent } from "../fsio/read-only.ts";
import { writeNewFile } from "../fsio/write-all.ts";
import type { HostPath, HostRoot, RealPath } from "../hostfs/host-root.ts";
import { isObject } from "../json.ts";
import { BACKUP_DIRECTORY, STATE_DIRECTORY, TRANSACTION_RECORD } from "../paths.ts";
import { isSiblingName, isTransactionId } from "./names.ts";
import type { RecordedStep, Step } from "./steps.ts";

const RECORD_VERSION = 1;

export interface TransactionRecord {
  version: number;
  id: string;
  phase: "prepare" | "commit";
  startedAt: string;
  backup: HostPath | undefined;
  steps: Array<RecordedStep<HostPath>>;
}

/** A recorded step back on real paths, through the path layer like any other host path. */
export function realStep(host: HostRoot, step: RecordedStep<HostPath>): RecordedStep {
  return mapPaths(
    step,
    (file) => host.file(file),
    (directory) => host.directory(directory),
  );
}

/** The step as the record keeps it: without content, on host paths. */
export function recordStep(host: HostRoot, step: Step): RecordedStep<HostPath> {
  const shown = (real: RealPath): HostPath => host.display(real);
  if (step.kind !== "write") return mapPaths(step, shown, shown);
  const { content: _content, ...withoutContent } = step;
  return mapPaths(withoutContent, shown, shown);
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
    writeNewFile(temp, `${JSON.stringify(record, null, 1)}\n`, 0o600);
    if (durable) syncFilesystems([temp, ...flushAlso]);
    fs.renameSync(temp, file);
    // Only the rename is new since the flush: the directory's own fsync covers it.
    if (durable) fsyncPath(host.directory(STATE_DIRECTORY));
  });
}

/**
 * The record a run left, if any: the record itself, or what makes it unusable (it cannot be
 * read, does not parse, or is not one this agent writes), in words that never quote it.
 */
export function readRecord(host: HostRoot): { record: TransactionRecord } | { unreadable: string } | undefined {
  let text: string | undefined;
  try {
    text = readTextIfExists(host.file(TRANSACTION_RECORD), "read", TRANSACTION_RECORD);
  } catch (error) {
    return { unreadable: (error as Error).message };
  }
  if (text === undefined) return undefined;
  let record: unknown;
  try {
    record = JSON.parse(text);
  } catch {
    return { unreadable: "it is not valid JSON (cut short, or edited)" };
  }
  if (!isObject(record) || record.version !== RECORD_VERSION || !Array.isArray(record.steps) || !record.steps.every(isRecordedStep)) {
    return { unreadable: "it is not a record this agent version writes" };
  }
  if (typeof record.id !== "string" || (record.phase !== "prepare" && record.phase !== "commit")) return { unreadable: "it has no transaction id or phase" };
  if (record.backup !== undefined && !isBackupOf(record.backup)) return { unreadable: "it names a backup outside the backup directory" };
  return { record: record as unknown as TransactionRecord };
}

const isHostPath = (value: unknown): value is string => typeof value === "string" && value.startsWith("/") && value === path.posix.normalize(value) && !value.split("/").includes("..");
const isId = (value: unknown): boolean => Number.isInteger(value) && (value as number) >= 0;

/** A temp or undo name the transaction gave beside `target`: recovery removes such files, and nothing else. */
function isSiblingOf(value: unknown, target: string): boolean {
  return isHostPath(value) && path.posix.dirname(value) === path.posix.dirname(target) && isSiblingName(path.posix.basename(value));
}

function isBackupOf(value: unknown): boolean {
  return isHostPath(value) && path.posix.dirname(value) === BACKUP_DIRECTORY && isTransactionId(path.posix.basename(value).replace(/\.tar$/, ""));
}

/** A step as the agent records it: a known kind, absolute plain paths, its own temp and undo names, numeric owners and modes. */
function isRecordedStep(step: unknown): boolean {
  if (!isObject(step) || !isHostPath(step.target)) return false;
  const owned = isId(step.uid) && isId(step.gid) && isId(step.mode);
  switch (step.kind) {
    case "mkdir":
      return owned;
    case "write":
      return owned && isSiblingOf(step.temp, step.target) && (step.undo === undefined || isSiblingOf(step.undo, step.target));
    case "remove":
      return isSiblingOf(step.undo, step.target);
    case "chmod":
      return owned && isObject(step.previous) && isId(step.previous.uid) && isId(step.previous.gid) && isId(step.previous.mode);
    default:
      return false;
  }
}

export function removeRecord(host: HostRoot): void {
  const file = host.file(TRANSACTION_RECORD);
  removeIfPresent(file);
  removeIfPresent(`${file}.tmp`);
}

/** Drops what only existed to undo the transaction, then its record. */
export function finish(host: HostRoot, steps: readonly RecordedStep[]): void {
  for (const step of steps) {
    if ((step.kind === "write" && step.undo !== undefined) || step.kind === "remove") {
      const undo = step.undo!;
      attempt("remove", host.display(undo), () => removeIfPresent(undo, { recursive: true }));
    }
  }
  removeRecord(host);
}
