// The transaction that changes the host (SPEC section 4), in three phases:
//
//   prepare  create missing directories; write every new file as a temp file in its target
//            directory (final mode and owner before the first byte); hard-link every file
//            that will be replaced to an undo name. Nothing visible has changed yet.
//   commit   one syncfs makes all of that durable together with the transaction record
//            (state.json, phase "commit"); then rename() each temp over its target, move
//            removed entries to their undo names, fix directory modes; syncfs again.
//   finish   drop the undo links and the record.
//
// Any error or signal before finish is rolled back in process: undo links are renamed
// back, so every old file returns as the very same inode (content, owner, mode, mtime).
// A process that dies (kill -9, power cut) leaves the record: the next run rolls a
// "prepare" record back and rolls a "commit" record forward, since every temp file it
// names was durable before the first rename.

import * as fs from "node:fs";
import * as path from "node:path";
import { AgentError, ExitCode, fromSystemError } from "../errors.ts";
import type { Ownership } from "../fsio/ownership.ts";
import { listOrEmpty } from "../fsio/read-only.ts";
import { writeAll } from "../fsio/write-all.ts";
import { realChild, realParent, type HostPath, type HostRoot, type RealPath } from "../hostfs/host-root.ts";
import { TRANSACTION_RECORD } from "../paths.ts";
import { fsyncPath, syncFilesystems } from "./durability.ts";
import type { Plan } from "./plan.ts";

const RECORD_VERSION = 1;
const TEMP_PATTERN = /^\.typhoon-agent\.[0-9A-Za-z.-]+\.\d+\.(tmp|orig)$/;

type WriteShape<P> = { kind: "write"; target: P; temp: P; undo: P | undefined; mtimeMs?: number } & Ownership;

/** A step without file contents, on real paths (`P`), or on host paths as the record keeps it. */
export type RecordedStep<P extends string = RealPath> =
  | ({ kind: "mkdir"; target: P } & Ownership)
  | WriteShape<P>
  | { kind: "remove"; target: P; undo: P }
  | ({ kind: "chmod"; target: P; previous: Ownership } & Ownership);

export type Step = Exclude<RecordedStep, WriteShape<RealPath>> | (WriteShape<RealPath> & { content: Buffer });

interface TransactionRecord {
  version: number;
  id: string;
  phase: "prepare" | "commit";
  startedAt: string;
  backup: HostPath | undefined;
  steps: Array<RecordedStep<HostPath>>;
}

export interface TransactionHooks {
  /** Checked between steps: throws when SIGTERM or SIGINT arrived. */
  throwIfCancelled(): void;
  /** Labels temp files before they become visible (SELinux); absent when not needed. */
  label?: (realPaths: readonly RealPath[]) => void;
}

/** Turns a plan into the ordered steps of a transaction with id `id`. */
export function stepsOf(plan: Plan, id: string): Step[] {
  const steps: Step[] = [];
  let index = 0;
  const sibling = (target: RealPath, suffix: "tmp" | "orig"): RealPath => realChild(realParent(target), `.typhoon-agent.${id}.${index}.${suffix}`);
  for (const directory of plan.directories) {
    if (directory.action === "create") {
      const { uid, gid, mode } = directory.desired;
      steps.push({ kind: "mkdir", target: directory.realPath, uid, gid, mode });
    }
  }
  for (const file of plan.files) {
    if (file.action === "unchanged") continue;
    index++;
    const { uid, gid, mode, content } = file.desired;
    steps.push({
      kind: "write",
      target: file.realPath,
      temp: sibling(file.realPath, "tmp"),
      undo: file.action === "create" ? undefined : sibling(file.realPath, "orig"),
      content,
      uid,
      gid,
      mode,
    });
  }
  for (const removal of plan.removals) {
    index++;
    steps.push({ kind: "remove", target: removal.realPath, undo: sibling(removal.realPath, "orig") });
  }
  for (const directory of plan.directories) {
    if (directory.action === "repair") {
      const { uid, gid, mode } = directory.desired;
      const current = directory.current!;
      steps.push({ kind: "chmod", target: directory.realPath, uid, gid, mode, previous: { uid: current.uid, gid: current.gid, mode: current.mode } });
    }
  }
  return steps;
}

export class Transaction {
  private readonly host: HostRoot;
  private readonly stateDirectory: RealPath;
  private readonly id: string;
  private readonly steps: readonly Step[];
  private readonly hooks: TransactionHooks;
  private readonly backup: RealPath | undefined;
  /** What the transaction carries out, for its error messages: "apply" or "rollback". */
  private readonly command: string;
  private prepared = 0;
  private committed = 0;
  private phase: "idle" | "prepare" | "commit" = "idle";
  private readonly startedAt = new Date().toISOString();

  constructor(options: { host: HostRoot; stateDirectory: RealPath; id: string; steps: readonly Step[]; hooks: TransactionHooks; backup?: RealPath; command?: string }) {
    this.command = options.command ?? "apply";
    this.host = options.host;
    this.stateDirectory = options.stateDirectory;
    this.id = options.id;
    this.steps = options.steps;
    this.hooks = options.hooks;
    this.backup = options.backup;
  }

  /**
   * Runs the transaction; on failure rolls back and throws (exit 1). Resolves with a
   * warning when only the final clean-up failed: the host is fully updated then, and the
   * next apply removes the leftovers.
   */
  async run(): Promise<string | undefined> {
    try {
      this.phase = "prepare";
      writeRecord(this.host, this.stateDirectory, this.record("prepare"), false);
      for (const step of this.steps) {
        await this.checkpoint();
        // Counted before it runs: a step that fails half-way (a temp file created, its write
        // refused) is undone with the others.
        this.prepared++;
        prepareStep(step);
      }
      const temps = this.steps.flatMap((step) => (step.kind === "write" ? [step.temp] : []));
      if (temps.length > 0) this.hooks.label?.(temps);
      await this.checkpoint();

      // One flush makes every temp file, undo link, new directory, the backup and the
      // commit record durable before anything visible changes.
      this.phase = "commit";
      writeRecord(this.host, this.stateDirectory, this.record("commit"), true, this.touchedDirectories());
      for (const step of this.steps) {
        await this.checkpoint();
        commitStep(step);
        this.committed++;
      }
      syncFilesystems(this.touchedDirectories());
    } catch (error) {
      throw this.rollBack(error);
    }
    this.phase = "idle";
    try {
      finish(this.host, this.steps);
      return undefined;
    } catch (error) {
      return `installed, but cleaning up failed (${error instanceof Error ? error.message : String(error)}); the next apply finishes it`;
    }
  }

  /** Lets pending signal handlers run, then stops if one asked to. */
  private async checkpoint(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    this.hooks.throwIfCancelled();
  }

  private record(phase: TransactionRecord["phase"]): TransactionRecord {
    return {
      version: RECORD_VERSION,
      id: this.id,
      phase,
      startedAt: this.startedAt,
      backup: this.backup === undefined ? undefined : this.host.display(this.backup),
      steps: this.steps.map((step) => recordStep(this.host, step)),
    };
  }

  private touchedDirectories(): string[] {
    const directories = new Set<string>([this.stateDirectory]);
    for (const step of this.steps) directories.add(step.kind === "mkdir" || step.kind === "chmod" ? step.target : path.dirname(step.target));
    return [...directories].filter((directory) => fs.existsSync(directory));
  }

  /** Undoes what was done, newest first, and returns the error to report. */
  private rollBack(cause: unknown): AgentError {
    const message = (error: unknown): string => (error instanceof Error ? error.message : String(error));
    const reason = message(cause);
    const { hint, path: file } = cause instanceof AgentError ? cause : { hint: undefined, path: undefined };
    try {
      for (let i = this.committed - 1; i >= 0; i--) undoCommittedStep(this.steps[i]!);
      for (let i = this.prepared - 1; i >= 0; i--) undoPreparedStep(this.steps[i]!);
      // Every path is as it was: the record, which would finish the transaction, must go
      // before anything else can fail.
      removeRecord(this.host);
    } catch (rollbackError) {
      return new AgentError(
        ExitCode.ioError,
        `${this.command} failed (${reason}) and undoing it failed too (${message(rollbackError)})`,
        `the next typhoon-agent apply completes the interrupted transaction from ${TRANSACTION_RECORD}`,
        file,
      );
    }
    try {
      if (this.phase !== "idle") syncFilesystems(this.touchedDirectories());
    } catch (syncError) {
      return new AgentError(ExitCode.ioError, `${this.command} failed (${reason}); every path was restored, but flushing the restore to disk failed (${message(syncError)})`, "check the disk (dmesg); the next typhoon-agent apply starts from the restored tree", file);
    }
    return new AgentError(ExitCode.failed, `${this.command} failed and was rolled back: ${reason}`, hint, file);
  }
}

function prepareStep(step: Step): void {
  switch (step.kind) {
    case "mkdir":
      attempt("create directory", step.target, () => {
        fs.mkdirSync(step.target, { mode: step.mode });
        fs.chownSync(step.target, step.uid, step.gid);
        fs.chmodSync(step.target, step.mode);
      });
      return;
    case "write":
      writeTemp(step);
      if (step.undo !== undefined) attempt("link", step.target, () => fs.linkSync(step.target, step.undo!));
      return;
    case "remove":
    case "chmod":
      return;
  }
}

/**
 * The new file is created exclusively, never through a link, with at most its final
 * permissions (umask only removes bits), given to its owner, then set to its exact mode,
 * all before the first byte of content: a secret is never readable by anyone else.
 */
function writeTemp(step: Extract<Step, { kind: "write" }>): void {
  // Named by its target: the temp file's name means nothing to an operator.
  attempt("write", step.target, () => {
    const fd = fs.openSync(step.temp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, step.mode);
    try {
      fs.fchownSync(fd, step.uid, step.gid);
      fs.fchmodSync(fd, step.mode);
      writeAll(fd, step.content);
      if (step.mtimeMs !== undefined) fs.futimesSync(fd, new Date(), new Date(step.mtimeMs));
    } finally {
      fs.closeSync(fd);
    }
  });
}

function commitStep(step: RecordedStep): void {
  switch (step.kind) {
    case "mkdir":
      return;
    case "write":
      attempt("rename into place", step.target, () => fs.renameSync(step.temp, step.target));
      return;
    case "remove":
      attempt("move aside", step.target, () => fs.renameSync(step.target, step.undo));
      return;
    case "chmod":
      attempt("set owner and mode of", step.target, () => {
        fs.chownSync(step.target, step.uid, step.gid);
        fs.chmodSync(step.target, step.mode);
      });
      return;
  }
}

function undoCommittedStep(step: RecordedStep): void {
  switch (step.kind) {
    case "mkdir":
      return;
    case "write":
      if (step.undo === undefined) fs.rmSync(step.target, { force: true });
      else fs.renameSync(step.undo, step.target);
      return;
    case "remove":
      fs.renameSync(step.undo, step.target);
      return;
    case "chmod":
      fs.chownSync(step.target, step.previous.uid, step.previous.gid);
      fs.chmodSync(step.target, step.previous.mode);
      return;
  }
}

function undoPreparedStep(step: RecordedStep): void {
  switch (step.kind) {
    case "mkdir":
      if (fs.existsSync(step.target) && fs.readdirSync(step.target).length === 0) fs.rmdirSync(step.target);
      return;
    case "write":
      fs.rmSync(step.temp, { force: true });
      if (step.undo !== undefined && fs.existsSync(step.undo)) fs.rmSync(step.undo, { force: true });
      return;
    case "remove":
    case "chmod":
      return;
  }
}

/** Drops what only existed to undo the transaction. */
function finish(host: HostRoot, steps: readonly RecordedStep[]): void {
  for (const step of steps) {
    if ((step.kind === "write" && step.undo !== undefined) || step.kind === "remove") {
      const undo = step.undo!;
      attempt("remove", host.display(undo), () => fs.rmSync(undo, { recursive: true, force: true }));
    }
  }
  removeRecord(host);
}

export interface Recovery {
  id: string;
  /** "rolled back" for a transaction that had not started its renames, "completed" otherwise. */
  outcome: "rolled back" | "completed";
}

/**
 * Finishes a transaction a dead process left behind (see the top of this file). Returns
 * undefined when there was none.
 */
export function recoverInterrupted(host: HostRoot, stateDirectory: RealPath): Recovery | undefined {
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
    if (step.kind === "write" && fs.existsSync(step.temp)) fs.renameSync(step.temp, step.target);
    if (step.kind === "remove" && fs.existsSync(step.target) && !fs.existsSync(step.undo)) fs.renameSync(step.target, step.undo);
    if (step.kind === "chmod" && fs.existsSync(step.target)) commitStep(step);
  }
  syncFilesystems([stateDirectory, ...steps.map((step) => path.dirname(step.target)).filter((directory) => fs.existsSync(directory))]);
  finish(host, steps);
  return { id: record.id, outcome: "completed" };
}

/** What recoverInterrupted would do, without doing it (plan changes nothing). */
export function pendingRecovery(host: HostRoot): Recovery | undefined {
  const record = readRecord(host);
  return record === undefined ? undefined : { id: record.id, outcome: record.phase === "prepare" ? "rolled back" : "completed" };
}

/** Removes temp and undo files no record accounts for (a record lost before its first flush). */
export function removeStrayFiles(directories: Iterable<RealPath>): RealPath[] {
  const removed: RealPath[] = [];
  for (const directory of directories) {
    for (const entry of listOrEmpty(directory)) {
      if (!TEMP_PATTERN.test(entry)) continue;
      const stray = realChild(directory, entry);
      fs.rmSync(stray, { recursive: true, force: true });
      removed.push(stray);
    }
  }
  return removed;
}

/** The step as the record keeps it: without content, on host paths. */
function recordStep(host: HostRoot, step: Step): RecordedStep<HostPath> {
  return mapPaths(step.kind === "write" ? withoutContent(step) : step, (real) => host.display(real), (real) => host.display(real));
}

/** A recorded step back on real paths, through the path layer like any other host path. */
function realStep(host: HostRoot, step: RecordedStep<HostPath>): RecordedStep {
  return mapPaths(step, (file) => host.file(file), (directory) => host.directory(directory));
}

function withoutContent(step: WriteShape<RealPath> & { content: Buffer }): WriteShape<RealPath> {
  const { content: _content, ...rest } = step;
  return rest;
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
function writeRecord(host: HostRoot, stateDirectory: RealPath, record: TransactionRecord, durable: boolean, flushAlso: readonly string[] = []): void {
  const file = host.file(TRANSACTION_RECORD);
  const temp = `${file}.tmp`;
  attempt("write", host.display(file), () => {
    fs.writeFileSync(temp, `${JSON.stringify(record, null, 1)}\n`, { mode: 0o600 });
    if (durable) syncFilesystems([temp, ...flushAlso]);
    fs.renameSync(temp, file);
    // Only the rename is new since the flush: the directory's own fsync covers it.
    if (durable) fsyncPath(stateDirectory);
  });
}

function readRecord(host: HostRoot): TransactionRecord | undefined {
  const file = host.file(TRANSACTION_RECORD);
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw fromSystemError(error, "read", host.display(file));
  }
  let record: TransactionRecord;
  try {
    record = JSON.parse(text) as TransactionRecord;
  } catch {
    throw new AgentError(ExitCode.ioError, `${host.display(file)} is not valid JSON`, "inspect it; delete it only if no apply is running");
  }
  if (record.version !== RECORD_VERSION || !Array.isArray(record.steps)) {
    throw new AgentError(ExitCode.ioError, `${host.display(file)} was written by an unknown agent version (${String(record.version)})`);
  }
  return record;
}

function removeRecord(host: HostRoot): void {
  const file = host.file(TRANSACTION_RECORD);
  fs.rmSync(file, { force: true });
  fs.rmSync(`${file}.tmp`, { force: true });
}

function attempt(action: string, target: string, operation: () => void): void {
  try {
    operation();
  } catch (error) {
    throw fromSystemError(error, action, target);
  }
}
