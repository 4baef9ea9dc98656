// `typhoon-agent unpack`: the bundle as a directory tree, all or nothing. Assets are
// written into a hidden staging directory inside the target, and only after the whole
// input has validated are they renamed into place; on any error the staging directory is
// removed, so a rejected bundle leaves the target exactly as it was.

import * as fs from "node:fs";
import * as path from "node:path";
import { AgentError, ExitCode, fromSystemError } from "../errors.ts";
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
// Unpacked assets include private keys: nobody but the owner reads them.
const FILE_MODE = 0o600;
const DIRECTORY_MODE = 0o700;
const NEWLINE = Uint8Array.of(0x0a);

export function unpackToDirectory(input: BundleInput, target: string, mode: UnpackMode, chunkSize?: number): UnpackResult {
  const createdTarget = ensureTargetDirectory(target);
  removeAbandonedStaging(target);
  const staging = path.join(target, `${STAGING_PREFIX}${process.pid}`);
  try {
    fs.mkdirSync(staging, { mode: DIRECTORY_MODE });
  } catch (error) {
    throw fromSystemError(error, "create staging directory", staging);
  }
  const sink = new StagingSink(staging, mode);
  let succeeded = false;
  try {
    const summary = parseBundle(input.read, sink, chunkSize === undefined ? {} : { chunkSize });
    checkDestinations(target, sink.files);
    for (const file of sink.files) {
      moveIntoPlace(staging, target, file);
    }
    succeeded = true;
    return { ...summary, files: sink.files };
  } finally {
    sink.closeOpenFile();
    fs.rmSync(staging, { recursive: true, force: true });
    if (!succeeded && createdTarget && fs.readdirSync(target).length === 0) fs.rmdirSync(target);
  }
}

class StagingSink implements AssetSink {
  readonly files: string[] = [];
  private readonly staging: string;
  private readonly mode: UnpackMode;
  private readonly madeDirectories = new Set<string>();
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
      throw fromSystemError(error, "write", path.join(this.staging, this.name));
    }
    this.written += bytes.length;
    this.lastByte = bytes[bytes.length - 1] ?? this.lastByte;
  }

  private open(): void {
    const file = path.join(this.staging, this.name);
    const parent = path.dirname(file);
    try {
      if (!this.madeDirectories.has(parent)) {
        fs.mkdirSync(parent, { recursive: true, mode: DIRECTORY_MODE });
        this.madeDirectories.add(parent);
      }
      this.fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, FILE_MODE);
    } catch (error) {
      throw fromSystemError(error, "create", file);
    }
    this.files.push(this.name);
  }
}

/** Creates the target if needed; returns whether it did (so a failure can remove it again). */
function ensureTargetDirectory(target: string): boolean {
  try {
    const stat = fs.lstatSync(target);
    if (!stat.isDirectory()) {
      throw new AgentError(ExitCode.cannotCreate, `${target} is not a directory`);
    }
    return false;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw fromSystemError(error, "use", target);
  }
  try {
    fs.mkdirSync(target, { recursive: true, mode: DIRECTORY_MODE });
  } catch (error) {
    throw fromSystemError(error, "create", target);
  }
  return true;
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
 * Before the first rename: every parent on the way must be a real directory (or absent)
 * and every destination a regular file (or absent). A symlink is never followed out of
 * the target.
 */
function checkDestinations(target: string, files: readonly string[]): void {
  const checked = new Set<string>();
  for (const file of files) {
    const segments = file.split("/");
    let relative = "";
    for (let i = 0; i < segments.length; i++) {
      relative = relative === "" ? segments[i]! : `${relative}/${segments[i]}`;
      const isFile = i === segments.length - 1;
      if (checked.has(relative)) continue;
      const absolute = path.join(target, relative);
      let stat: fs.Stats;
      try {
        stat = fs.lstatSync(absolute);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") {
          checked.add(relative);
          continue;
        }
        throw fromSystemError(error, "inspect", absolute);
      }
      if (stat.isSymbolicLink()) {
        throw new AgentError(ExitCode.cannotCreate, `${absolute} is a symlink; the agent does not follow links`, "remove the link and retry");
      }
      if (isFile ? !stat.isFile() : !stat.isDirectory()) {
        throw new AgentError(ExitCode.cannotCreate, `${absolute} exists and is not a ${isFile ? "regular file" : "directory"}`);
      }
      checked.add(relative);
    }
  }
}

function moveIntoPlace(staging: string, target: string, file: string): void {
  const destination = path.join(target, file);
  try {
    fs.mkdirSync(path.dirname(destination), { recursive: true, mode: DIRECTORY_MODE });
    fs.renameSync(path.join(staging, file), destination);
  } catch (error) {
    throw fromSystemError(error, "move into place", destination);
  }
}
