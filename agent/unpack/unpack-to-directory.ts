// `typhoon-agent unpack`: the bundle as a directory tree, all or nothing. Assets are
// written into a hidden staging directory inside the target, and only after the whole
// input has validated are they moved into place (move-into-place.ts, with the undo log
// apply uses too), so a failure half-way puts the old tree back; a rejected bundle or any
// error leaves the target exactly as it was, and a target the command created is removed again.

import * as fs from "node:fs";
import * as path from "node:path";
import { AgentError, ExitCode, attempt, fromSystemError } from "../errors.ts";
import { listIfExists, statIfExists } from "../fsio/read-only.ts";
import { abandonedBy } from "../fsio/abandoned.ts";
import { CREATE_NEW, writeAll } from "../fsio/write-all.ts";
import { stagingDirectoryName, stagingPid } from "../transaction/names.ts";
import { parseBundleInterruptibly, type AssetSink, type ParseSummary } from "./bundle-parser.ts";
import type { BundleInput } from "./input.ts";
import { DIRECTORY_MODE, IncompleteUndoError, moveIntoPlace } from "./move-into-place.ts";

/**
 * `exact` restores every asset byte for byte; `awk` reproduces what
 * `awk '/#####/ {filename=$2; next} {print > filename}'` writes.
 */
type UnpackMode = "exact" | "awk";

interface UnpackResult extends ParseSummary {
  /** Files written, relative to the target directory, in bundle order. */
  files: string[];
}

/**
 * Inside the staging directory: the new assets, flat and numbered in bundle order (a tree
 * mirroring the target would cost a mkdir per directory twice: creating one here is as slow
 * as creating a file), and the old files the commit replaced.
 */
const STAGED_ASSETS = "new";
const SET_ASIDE = "old";
// Unpacked assets include private keys: nobody but the owner reads them.
const FILE_MODE = 0o600;
const NEWLINE = Uint8Array.of(0x0a);

interface UnpackOptions {
  /** Bytes read per step (tests use tiny chunks). */
  chunkSize?: number;
  /**
   * Awaited between the buffers of the bundle and before the move into place; what it throws
   * (a caught signal) stops the unpack, which leaves `target` as it was. The move itself is
   * not interrupted: it is short, and all or nothing by its own undo log.
   */
  between?: () => Promise<void>;
}

export async function unpackToDirectory(input: BundleInput, target: string, mode: UnpackMode, options: UnpackOptions = {}): Promise<UnpackResult> {
  const created = ensureTargetDirectory(target);
  try {
    return await unpackInto(input, target, mode, options);
  } catch (error) {
    removeDirectories(created);
    throw error;
  }
}

async function unpackInto(input: BundleInput, target: string, mode: UnpackMode, options: UnpackOptions): Promise<UnpackResult> {
  const between = options.between ?? (async () => {});
  removeAbandonedStaging(target);
  const staging = path.join(target, stagingDirectoryName(process.pid));
  attempt("create staging directory", staging, () => fs.mkdirSync(staging, { mode: DIRECTORY_MODE }));
  const stagedAssets = path.join(staging, STAGED_ASSETS);
  const sink = new StagingSink(stagedAssets, mode);
  let result: UnpackResult;
  try {
    const summary = await parseBundleInterruptibly(input.read, sink, between, options.chunkSize === undefined ? {} : { chunkSize: options.chunkSize });
    await between();
    const staged = sink.files.map((_, index) => stagedFile(stagedAssets, index));
    moveIntoPlace(target, { staged, files: sink.files, setAside: path.join(staging, SET_ASIDE) });
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
      this.fd = fs.openSync(file, CREATE_NEW, FILE_MODE);
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

/**
 * Innermost first; one that something else has written into meanwhile stays, with its parents.
 * It runs while a failure is being reported, so one that cannot go for another reason stays
 * too: the failure that got here is what the operator must see.
 */
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
  for (const entry of listIfExists(target)) {
    const pid = stagingPid(entry);
    if (pid !== undefined && abandonedBy(pid)) fs.rmSync(path.join(target, entry), { recursive: true, force: true });
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
