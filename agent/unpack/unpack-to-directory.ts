// `typhoon-agent unpack`: the bundle as a directory tree, all or nothing. Assets are
// written into a hidden staging directory inside the target, and only after the whole
// input has validated are they moved into place. That commit keeps an undo log (every
// directory it created, every old file it set aside in the staging directory), so a
// failure half-way puts the old tree back; a rejected bundle or any error leaves the
// target exactly as it was, and a target the command created is removed again.

import * as fs from "node:fs";
import * as path from "node:path";
import { AgentError, ExitCode, fromSystemError } from "../errors.ts";
import { statIfExists } from "../fsio/read-only.ts";
import { writeAll } from "../fsio/write-all.ts";
import { parseBundle, type AssetSink, type ParseSummary } from "./bundle-parser.ts";
import type { BundleInput } from "./input.ts";

/**
 * `exact` restores every asset byte for byte; `awk` reproduces what
 * `awk '/#####/ {filename=$2; next} {print > filename}'` writes.
 */
export type UnpackMode = "exact" | "awk";

export interface UnpackResult extends ParseSummary {
  /** Files written, relative to the target directory, in bundle order. */
  files: string[];
}

const STAGING_PREFIX = ".typhoon-agent-unpack.";
/**
 * Inside the staging directory: the new assets, flat and numbered in bundle order (a tree
 * mirroring the target would cost a mkdir per directory twice: creating one here is as slow
 * as creating a file), and the old files the commit replaced.
 */
const STAGED_ASSETS = "new";
const SET_ASIDE = "old";
// Unpacked assets include private keys: nobody but the owner reads them.
const FILE_MODE = 0o600;
const DIRECTORY_MODE = 0o700;
const NEWLINE = Uint8Array.of(0x0a);

export function unpackToDirectory(input: BundleInput, target: string, mode: UnpackMode, chunkSize?: number): UnpackResult {
  const created = ensureTargetDirectory(target);
  try {
    return unpackInto(input, target, mode, chunkSize);
  } catch (error) {
    removeDirectories(created);
    throw error;
  }
}

function unpackInto(input: BundleInput, target: string, mode: UnpackMode, chunkSize: number | undefined): UnpackResult {
  removeAbandonedStaging(target);
  const staging = path.join(target, `${STAGING_PREFIX}${process.pid}`);
  try {
    fs.mkdirSync(staging, { mode: DIRECTORY_MODE });
  } catch (error) {
    throw fromSystemError(error, "create staging directory", staging);
  }
  const sink = new StagingSink(path.join(staging, STAGED_ASSETS), mode);
  let result: UnpackResult;
  try {
    const summary = parseBundle(input.read, sink, chunkSize === undefined ? {} : { chunkSize });
    commit(target, staging, sink.files);
    result = { ...summary, files: sink.files };
  } catch (error) {
    sink.closeOpenFile();
    // Without a complete undo, the staging directory holds the only copy of some old files.
    if (!(error instanceof IncompleteUndoError)) removeStaging(staging);
    throw error;
  }
  removeStaging(staging);
  return result;
}

/** Where the `index`th asset of the bundle waits for the commit. */
function stagedFile(stagedAssets: string, index: number): string {
  return path.join(stagedAssets, String(index));
}

class StagingSink implements AssetSink {
  readonly files: string[] = [];
  private readonly staging: string;
  private readonly mode: UnpackMode;
  private name = "";
  private fd = -1;
  private written = 0;
  private lastByte = -1;

  constructor(staging: string, mode: UnpackMode) {
    this.staging = staging;
    this.mode = mode;
  }

  begin(name: string): void {
    this.name = name;
    this.written = 0;
    this.lastByte = -1;
    // awk creates a file on its first print; an exact asset exists even when empty.
    if (this.mode === "exact") this.open();
  }

  content(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.write(bytes);
  }

  end(last: boolean): void {
    if (this.mode === "awk") {
      // awk prints every line with its newline, and the separator before the next header
      // is a line of its own: so a non-last asset gains a newline, the last one gains one
      // only if it lacked it, and an empty last asset is never opened.
      if (!last || (this.written > 0 && this.lastByte !== 0x0a)) this.write(NEWLINE);
    }
    if (this.fd >= 0) {
      fs.closeSync(this.fd);
      this.fd = -1;
    }
  }

  /** Closes the file a failed parse left open; the caller removes the staging tree. */
  closeOpenFile(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }

  private write(bytes: Uint8Array): void {
    if (this.fd < 0) this.open();
    try {
      writeAll(this.fd, bytes);
    } catch (error) {
      throw fromSystemError(error, `write asset ${this.name} into`, this.staging);
    }
    this.written += bytes.length;
    this.lastByte = bytes[bytes.length - 1] ?? this.lastByte;
  }

  private open(): void {
    const file = stagedFile(this.staging, this.files.length);
    try {
      if (this.files.length === 0) fs.mkdirSync(this.staging, { mode: DIRECTORY_MODE });
      this.fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, FILE_MODE);
    } catch (error) {
      throw fromSystemError(error, `create asset ${this.name} in`, this.staging);
    }
    this.files.push(this.name);
  }
}

/**
 * Creates the target and its missing parents, following a symlink the operator named;
 * returns what it created, outermost first, so a failure can remove exactly that again.
 */
function ensureTargetDirectory(target: string): string[] {
  const missing: string[] = [];
  for (let directory = target; !isExistingDirectory(directory); directory = path.dirname(directory)) {
    missing.unshift(directory);
  }
  const created: string[] = [];
  for (const directory of missing) {
    try {
      fs.mkdirSync(directory, { mode: DIRECTORY_MODE });
    } catch (error) {
      removeDirectories(created);
      throw fromSystemError(error, "create", directory);
    }
    created.push(directory);
  }
  return created;
}

function isExistingDirectory(directory: string): boolean {
  const stat = statIfExists(directory, { follow: true });
  if (stat === undefined) return false;
  if (!stat.isDirectory()) throw new AgentError(ExitCode.cannotCreate, `${directory} is not a directory`);
  return true;
}

/** Innermost first; one that something else has written into meanwhile stays, with its parents. */
function removeDirectories(directories: readonly string[]): void {
  for (const directory of [...directories].reverse()) {
    try {
      fs.rmdirSync(directory);
    } catch {
      return;
    }
  }
}

/** A killed unpack leaves its staging directory behind; the next one removes it. */
function removeAbandonedStaging(target: string): void {
  for (const entry of fs.readdirSync(target)) {
    if (!entry.startsWith(STAGING_PREFIX)) continue;
    const pid = Number(entry.slice(STAGING_PREFIX.length));
    if (Number.isInteger(pid) && pid > 0 && !processExists(pid)) {
      fs.rmSync(path.join(target, entry), { recursive: true, force: true });
    }
  }
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * A staging directory left behind is private (0700) and the next unpack removes it;
 * failing over it would misreport a committed tree, or hide the error that matters.
 */
function removeStaging(staging: string): void {
  try {
    fs.rmSync(staging, { recursive: true, force: true });
  } catch {
    // left for the next unpack
  }
}

interface CommitPlan {
  /** Relative to the target, parents before their children. */
  missingDirectories: string[];
  /** Destinations that hold an old file, which the commit sets aside first. */
  replaced: Set<string>;
}

/**
 * Before the first change: every parent on the way must be a real directory (or absent)
 * and every destination a regular file (or absent). A symlink is never followed out of
 * the target.
 */
function planCommit(target: string, files: readonly string[]): CommitPlan {
  const plan: CommitPlan = { missingDirectories: [], replaced: new Set() };
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

/** Moves every staged file into place; if any step fails, every earlier one is undone first. */
function commit(target: string, staging: string, files: readonly string[]): void {
  const plan = planCommit(target, files);
  const log = new UndoLog(path.join(staging, SET_ASIDE));
  try {
    for (const directory of plan.missingDirectories) log.makeDirectory(path.join(target, directory));
    files.forEach((file, index) => log.place(stagedFile(path.join(staging, STAGED_ASSETS), index), path.join(target, file), plan.replaced.has(file)));
  } catch (error) {
    const failure = fromSystemError(error, "unpack into", target);
    const stuck = log.undo();
    throw stuck.length === 0 ? failure : new IncompleteUndoError(failure, stuck, log.setAsideDirectory);
  }
}

interface UndoStep {
  /** What the step would have done, for the message when it cannot. */
  readonly what: string;
  run(): void;
}

class UndoLog {
  readonly setAsideDirectory: string;
  private readonly steps: UndoStep[] = [];
  private setAsideCount = 0;

  constructor(setAsideDirectory: string) {
    this.setAsideDirectory = setAsideDirectory;
  }

  makeDirectory(directory: string): void {
    try {
      fs.mkdirSync(directory, { mode: DIRECTORY_MODE });
    } catch (error) {
      throw fromSystemError(error, "create", directory);
    }
    this.steps.push({ what: `remove the directory ${directory}`, run: () => fs.rmdirSync(directory) });
  }

  place(staged: string, destination: string, replacing: boolean): void {
    if (replacing) this.setAside(destination);
    try {
      fs.renameSync(staged, destination);
    } catch (error) {
      throw fromSystemError(error, "move into place", destination);
    }
    if (!replacing) this.steps.push({ what: `remove ${destination}`, run: () => fs.unlinkSync(destination) });
  }

  /** Runs every step, newest first, past any that fails; returns those that failed. */
  undo(): string[] {
    const failed: string[] = [];
    for (const step of [...this.steps].reverse()) {
      try {
        step.run();
      } catch (error) {
        failed.push(`${step.what}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
      }
    }
    return failed;
  }

  /**
   * A hard link keeps the old file in place until the new one atomically replaces it;
   * where links are refused (some filesystems, protected_hardlinks) it is moved aside,
   * and the destination is absent for a moment. Undo renames it back either way.
   */
  private setAside(destination: string): void {
    if (this.setAsideCount === 0) {
      try {
        fs.mkdirSync(this.setAsideDirectory, { mode: DIRECTORY_MODE });
      } catch (error) {
        throw fromSystemError(error, "create", this.setAsideDirectory);
      }
    }
    const kept = path.join(this.setAsideDirectory, String(++this.setAsideCount));
    try {
      fs.linkSync(destination, kept);
    } catch {
      try {
        fs.renameSync(destination, kept);
      } catch (error) {
        throw fromSystemError(error, "set aside", destination);
      }
    }
    this.steps.push({ what: `move ${kept} back to ${destination}`, run: () => fs.renameSync(kept, destination) });
  }
}

/** The commit failed and so did part of its undo: the operator has to finish it. */
class IncompleteUndoError extends AgentError {
  constructor(failure: AgentError, stuck: readonly string[], setAsideDirectory: string) {
    const shown = stuck.length > 3 ? [...stuck.slice(0, 3), `${stuck.length - 3} more steps`] : stuck;
    super(
      failure.exitCode,
      `${failure.message}; undoing the unpack failed too (could not ${shown.join("; ")})`,
      `the old files are kept in ${setAsideDirectory}: put them back by hand before the next unpack into this directory, which removes them`,
      failure.path,
    );
  }
}
