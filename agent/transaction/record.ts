// The transaction record (/var/lib/typhoon-agent/state.json): written before the first
// change ("prepare") and again, durably, before the first rename ("commit"); removed when
// the transaction is finished or rolled back. A run that dies leaves it, and the next apply
// or rollback finishes that transaction first: a "prepare" record is rolled back, a "commit"
// record rolled forward, since every temp file it names was on disk before the first rename
// (recovery.ts). Steps are recorded on host paths, without content, and resolved through
// HostRoot again.

import * as fs from "node:fs";
import { attempt } from "../errors.ts";
import { fsyncPath, syncFilesystems } from "../fsio/durability.ts";
import { readTextIfExists, removeIfPresent } from "../fsio/read-only.ts";
import { writeNewFile } from "../fsio/write-all.ts";
import type { HostPath, HostRoot, RealPath } from "../hostfs/host-root.ts";
import { isObject } from "../json.ts";
import { STATE_DIRECTORY, TRANSACTION_RECORD } from "../paths.ts";
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
 * The record a run left, if any: the record itself, or what makes it unusable (it does not
 * parse, or is not one this agent writes), in words that never quote it.
 */
export function readRecord(host: HostRoot): { record: TransactionRecord } | { unreadable: string } | undefined {
  const text = readTextIfExists(host.file(TRANSACTION_RECORD), "read", TRANSACTION_RECORD);
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
  return { record: record as unknown as TransactionRecord };
}

/** A step as the record keeps it: a known kind whose paths are absolute host paths. */
function isRecordedStep(step: unknown): boolean {
  if (!isObject(step) || !["mkdir", "write", "remove", "chmod"].includes(step.kind as string)) return false;
  const paths = [step.target, ...(step.kind === "write" ? [step.temp] : []), ...(step.kind === "remove" || (step.kind === "write" && step.undo !== undefined) ? [step.undo] : [])];
  return paths.every((value) => typeof value === "string" && value.startsWith("/") && !value.split("/").includes(".."));
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
