// unpack's commit: every staged asset moved into the target, all or nothing. Each change
// records its undo in the undo log apply and rollback use too (transaction/undo-log.ts):
// directories it creates are removed again, and an old file it replaces is first hard-linked
// aside (moved aside where links are refused) into the staging directory and renamed back.
// Unlike a transaction there is no durable record, so a failed undo does not stop the others:
// everything that can come back does, and what could not is named with where it is kept.

import * as fs from "node:fs";
import * as path from "node:path";
import { AgentError, ExitCode, attempt, describeErrno, fromSystemError } from "../errors.ts";
import { statIfExists } from "../fsio/read-only.ts";
import { UndoLog, type UndoFailure } from "../transaction/undo-log.ts";

/** How link(2) says a filesystem or sysctl (protected_hardlinks) refuses hard links. */
const LINKS_REFUSED = ["EPERM", "EMLINK", "EOPNOTSUPP", "ENOTSUP"];

/** Unpacked assets include private keys: nobody but the owner reads them. */
export const DIRECTORY_MODE = 0o700;

export interface Placement {
  /** Where each asset waits, in bundle order. */
  staged: readonly string[];
  /** Each asset's path relative to the target, in the same order. */
  files: readonly string[];
  /** Where replaced files are kept until the move is done (inside the staging directory). */
  setAside: string;
}

/** Moves every staged file into `target`; if any step fails, every earlier one is undone first. */
export function moveIntoPlace(target: string, placement: Placement): void {
  const plan = planMove(target, placement.files);
  const log = new UndoLog();
  const setAside = new SetAside(placement.setAside, log);
  try {
    for (const directory of plan.missingDirectories) makeDirectory(path.join(target, directory), log);
    placement.files.forEach((file, index) => {
      const destination = path.join(target, file);
      if (plan.replaced.has(file)) setAside.keep(destination);
      attempt("move into place", destination, () => fs.renameSync(placement.staged[index]!, destination));
      if (!plan.replaced.has(file)) log.add(`remove ${destination}`, () => fs.unlinkSync(destination));
    });
  } catch (error) {
    const failure = fromSystemError(error, "unpack into", target);
    const stuck = log.undo({ stopAtFirstFailure: false });
    throw stuck.length === 0 ? failure : new IncompleteUndoError(failure, stuck, placement.setAside);
  }
}

interface MovePlan {
  /** Relative to the target, parents before their children. */
  missingDirectories: string[];
  /** Destinations that hold an old file, which the move sets aside first. */
  replaced: Set<string>;
}

/**
 * Before the first change: every parent on the way must be a real directory (or absent)
 * and every destination a regular file (or absent). A symlink is never followed out of
 * the target.
 */
function planMove(target: string, files: readonly string[]): MovePlan {
  const plan: MovePlan = { missingDirectories: [], replaced: new Set() };
  const directoryExists = new Map<string, boolean>();
  for (const file of files) {
    const segments = file.split("/");
    let relative = "";
    let parentExists = true;
    for (const segment of segments.slice(0, -1)) {
      relative = relative === "" ? segment : `${relative}/${segment}`;
      let exists = directoryExists.get(relative);
      if (exists === undefined) {
        // Below a missing directory everything is missing: no need to look.
        exists = parentExists && existsAs(target, relative, "directory");
        directoryExists.set(relative, exists);
        if (!exists) plan.missingDirectories.push(relative);
      }
      parentExists = exists;
    }
    if (parentExists && existsAs(target, file, "regular file")) plan.replaced.add(file);
  }
  return plan;
}

function existsAs(target: string, relative: string, kind: "directory" | "regular file"): boolean {
  const absolute = path.join(target, relative);
  const stat = statIfExists(absolute);
  if (stat === undefined) return false;
  if (stat.isSymbolicLink()) {
    throw new AgentError(ExitCode.cannotCreate, `${absolute} is a symlink; the agent does not follow links`, "remove the link and retry");
  }
  if (kind === "directory" ? !stat.isDirectory() : !stat.isFile()) {
    throw new AgentError(ExitCode.cannotCreate, `${absolute} exists and is not a ${kind}`);
  }
  return true;
}

function makeDirectory(directory: string, log: UndoLog): void {
  attempt("create", directory, () => fs.mkdirSync(directory, { mode: DIRECTORY_MODE }));
  log.add(`remove the directory ${directory}`, () => fs.rmdirSync(directory));
}

/** Where the old files wait: numbered, in a directory made on first use. */
class SetAside {
  private readonly directory: string;
  private readonly log: UndoLog;
  private count = 0;

  constructor(directory: string, log: UndoLog) {
    this.directory = directory;
    this.log = log;
  }

  /**
   * A hard link keeps the old file in place until the new one atomically replaces it;
   * where links are refused (some filesystems, protected_hardlinks) it is moved aside,
   * and the destination is absent for a moment. Undo renames it back either way.
   */
  keep(destination: string): void {
    if (this.count === 0) attempt("create", this.directory, () => fs.mkdirSync(this.directory, { mode: DIRECTORY_MODE }));
    const kept = path.join(this.directory, String(++this.count));
    try {
      fs.linkSync(destination, kept);
    } catch (error) {
      if (!LINKS_REFUSED.includes((error as NodeJS.ErrnoException).code ?? "")) throw error;
      attempt("set aside", destination, () => fs.renameSync(destination, kept));
    }
    this.log.add(`move ${kept} back to ${destination}`, () => fs.renameSync(kept, destination));
  }
}

/** The move failed and so did part of its undo: the operator has to finish it. */
export class IncompleteUndoError extends AgentError {
  constructor(failure: AgentError, stuck: readonly UndoFailure[], setAsideDirectory: string) {
    const steps = stuck.map(({ what, error }) => `${what}: ${(error as NodeJS.ErrnoException).code === undefined ? String(error) : describeErrno((error as NodeJS.ErrnoException).code)}`);
    const shown = steps.length > 3 ? [...steps.slice(0, 3), `${steps.length - 3} more steps`] : steps;
    super(
      failure.exitCode,
      `${failure.message}; undoing the unpack failed too (could not ${shown.join("; ")})`,
      `the old files are kept in ${setAsideDirectory}: put them back by hand before the next unpack into this directory, which removes them`,
      failure.path,
      { cause: failure },
    );
  }
}
