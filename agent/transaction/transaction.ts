// The transaction that changes the host, for apply and rollback alike, in three phases:
//
//   prepare  create missing directories; write every new file as a temp file in its target
//            directory (final mode and owner before the first byte); hard-link every file
//            that will be replaced to an undo name; label the temp files (SELinux). Nothing
//            visible has changed yet.
//   commit   one syncfs makes all of that durable together with the transaction record
//            (state.json, phase "commit"); then rename() each temp over its target, move
//            removed entries to their undo names, fix directory modes; syncfs again.
//   finish   drop the undo links and the record.
//
// Any error, or SIGTERM, SIGINT or SIGHUP, before finish is rolled back in process from the
// undo log: undo links are renamed back, so every old file returns as the very same inode
// (content, owner, mode, mtime). A process that dies (kill -9, power cut) leaves the record,
// which the next run finishes (record.ts). See docs/design.md, "The transaction".

import * as fs from "node:fs";
import { AgentError, ExitCode, InternalError, isSystemError, messageOf, type Phase } from "../errors.ts";
import { syncFilesystems } from "../fsio/durability.ts";
import type { HostRoot, RealPath } from "../hostfs/host-root.ts";
import { STATE_DIRECTORY, TRANSACTION_RECORD } from "../paths.ts";
import { catchSignals, selinuxLabeller, type Interruption } from "./guard.ts";
import { finish, recordStep, removeRecord, writeRecord, type TransactionRecord } from "./record.ts";
import { commitStep, directoryOf, prepareStep, undoCommittedStep, undoPreparedStep, type Step } from "./steps.ts";
import { UndoLog } from "./undo-log.ts";

interface TransactionSpec {
  host: HostRoot;
  id: string;
  steps: readonly Step[];
  /** The backup the record names: rolling the transaction back after a crash deletes it. */
  backup?: RealPath;
  /** What the transaction carries out, for its messages. */
  command: "apply" | "rollback";
}

/** The transaction failed and every path is as it was; exit 1, or 70 when a bug made it fail. */
export class RolledBackError extends AgentError {
  constructor(command: string, cause: unknown, phase: Phase) {
    const failure = cause instanceof AgentError || isSystemError(cause) ? cause : new InternalError(cause);
    const { hint, path } = failure instanceof AgentError ? failure : { hint: undefined, path: undefined };
    super(failure instanceof InternalError ? ExitCode.internal : ExitCode.failed, `${command} failed and was rolled back: ${messageOf(failure)}`, hint, path, { cause: failure });
    this.phase = phase;
  }
}

/**
 * Runs the transaction. Throws a RolledBackError when it failed and was undone, or an
 * AgentError (exit 74, the record kept for the next run) when undoing failed too. Resolves
 * with a warning when only the final clean-up failed: the host is fully updated then, and
 * the next apply removes the leftovers.
 */
export async function runTransaction(spec: TransactionSpec): Promise<string | undefined> {
  const signals = catchSignals();
  try {
    return await new Run(spec, signals).run();
  } finally {
    signals.release();
  }
}

class Run {
  private readonly spec: TransactionSpec;
  private readonly signals: Interruption;
  private readonly undo = new UndoLog();
  private readonly startedAt = new Date().toISOString();
  private phase: Phase = "prepare";

  constructor(spec: TransactionSpec, signals: Interruption) {
    this.spec = spec;
    this.signals = signals;
  }

  async run(): Promise<string | undefined> {
    try {
      await this.prepare();
      await this.commit();
    } catch (error) {
      throw this.rollBack(error);
    }
    this.phase = "finish";
    try {
      finish(this.spec.host, this.spec.steps);
      return undefined;
    } catch (error) {
      // The host is complete: leftover undo files are a warning the next apply clears, but a bug is a bug.
      if (!(error instanceof AgentError) && !isSystemError(error)) throw error;
      return `${this.spec.command === "apply" ? "installed" : "restored"}, but cleaning up failed (${messageOf(error)}); the next apply finishes it`;
    }
  }

  private async prepare(): Promise<void> {
    const { host, steps } = this.spec;
    writeRecord(host, this.record("prepare"), false);
    for (const step of steps) {
      await this.signals.checkpoint();
      // Logged before it runs: a step that fails half-way (a temp file created, its write
      // refused) is undone with the others.
      this.undo.add(`undo preparing ${step.kind} ${step.target}`, () => undoPreparedStep(step));
      prepareStep(step);
    }
    const temps = steps.flatMap((step) => (step.kind === "write" ? [step.temp] : []));
    if (temps.length > 0) selinuxLabeller(host)?.(temps);
    await this.signals.checkpoint();
  }

  /** One flush makes every temp file, undo link, new directory, the backup and the record durable before anything visible changes. */
  private async commit(): Promise<void> {
    this.phase = "commit";
    writeRecord(this.spec.host, this.record("commit"), true, this.touchedDirectories());
    for (const step of this.spec.steps) {
      await this.signals.checkpoint();
      commitStep(step);
      this.undo.add(`undo ${step.kind} ${step.target}`, () => undoCommittedStep(step));
    }
    syncFilesystems(this.touchedDirectories());
  }

  private record(phase: TransactionRecord["phase"]): TransactionRecord {
    const { host, id, backup, steps } = this.spec;
    return {
      version: 1,
      id,
      phase,
      startedAt: this.startedAt,
      backup: backup === undefined ? undefined : host.display(backup),
      steps: steps.map((step) => recordStep(host, step)),
    };
  }

  private touchedDirectories(): string[] {
    const directories = new Set<string>([this.spec.host.directory(STATE_DIRECTORY)]);
    for (const step of this.spec.steps) directories.add(directoryOf(step));
    return [...directories].filter((directory) => fs.existsSync(directory));
  }

  /** Undoes what was done, newest first, and returns the error to report. */
  private rollBack(cause: unknown): AgentError {
    const { host, command } = this.spec;
    const path = cause instanceof AgentError ? cause.path : undefined;
    let undoFailure = this.undo.undo({ stopAtFirstFailure: true })[0]?.error;
    // Every path is as it was: the record, which would finish the transaction, must go
    // before anything else can fail.
    if (undoFailure === undefined) undoFailure = failureOf(() => removeRecord(host));
    const failed = (message: string, hint: string | undefined): AgentError => {
      const failure = new AgentError(ExitCode.ioError, message, hint, path, { cause });
      failure.phase = this.phase;
      return failure;
    };
    if (undoFailure !== undefined) {
      return failed(
        `${command} failed (${messageOf(cause)}) and undoing it failed too (${messageOf(undoFailure)})`,
        `the next typhoon-agent apply completes the interrupted transaction from ${TRANSACTION_RECORD}`,
      );
    }
    const syncFailure = failureOf(() => syncFilesystems(this.touchedDirectories()));
    if (syncFailure !== undefined) {
      return failed(
        `${command} failed (${messageOf(cause)}); every path was restored, but flushing the restore to disk failed (${messageOf(syncFailure)})`,
        "check the disk (dmesg); the next typhoon-agent apply starts from the restored tree",
      );
    }
    return new RolledBackError(command, cause, this.phase);
  }
}

function failureOf(operation: () => void): unknown {
  try {
    operation();
    return undefined;
  } catch (error) {
    return error;
  }
}
