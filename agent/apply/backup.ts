// Backups: before an apply changes anything, every file it will replace or remove (and the
// owner and mode of every directory it will repair) goes into
// /var/lib/typhoon-agent/backups/<UTC timestamp>.tar, with modes, owners and mtimes, plus a
// manifest of what the apply creates. `typhoon-agent rollback` turns the newest backup back
// into the tree it was taken from. Backups hold private keys: files 0600 in a 0700
// directory. The newest five are kept.

import * as fs from "node:fs";
import * as path from "node:path";
import type { Pack } from "tar-stream";
import { AgentError, ExitCode, attempt, describeErrno, fromSystemError, isSystemError, messageOf } from "../errors.ts";
import { ownershipOf, type Ownership } from "../fsio/ownership.ts";
import { listIfExists, removeIfPresent, withReadOnlyFile } from "../fsio/read-only.ts";
import { writeNewFile } from "../fsio/write-all.ts";
import { realChild, type HostPath, type HostRoot, type RealPath } from "../hostfs/host-root.ts";
import { isObject } from "../json.ts";
import { BACKUP_DIRECTORY } from "../paths.ts";
import type { Plan } from "../plan/plan.ts";
import { isTransactionId } from "../transaction/names.ts";
import { shellWords } from "../shell-word.ts";

const KEEP_BACKUPS = 5;
const MANIFEST_NAME = "typhoon-agent-backup.json";
const BACKUP_SUFFIX = ".tar";
/** A backup is written under this suffix and renamed once complete. */
const TEMP_SUFFIX = ".tmp";

interface BackupManifest {
  version: 1;
  transaction: string;
  createdAt: string;
  /** Host paths the apply created (files, then directories, parents first). */
  createdFiles: string[];
  createdDirectories: string[];
}

interface BackupEntry extends Ownership {
  /** The host path it was taken from. */
  path: HostPath;
  type: "file" | "directory";
  mtime: Date;
  content: Buffer;
}

export interface Backup {
  file: RealPath;
  manifest: BackupManifest;
  entries: BackupEntry[];
}

/** Writes the backup of transaction `id` for `plan` into the backup directory; returns its real path. */
export async function writeBackup(host: HostRoot, id: string, plan: Plan): Promise<RealPath> {
  const archive = await archiveOf(id, plan);
  const directory = host.directory(BACKUP_DIRECTORY);
  attempt("create", BACKUP_DIRECTORY, () => fs.mkdirSync(directory, { recursive: true, mode: 0o700 }));
  const file = realChild(directory, `${id}${BACKUP_SUFFIX}`);
  const temporary = `${file}${TEMP_SUFFIX}`;
  try {
    writeNewFile(temporary, archive, 0o600);
    fs.renameSync(temporary, file);
  } catch (error) {
    try {
      removeIfPresent(temporary);
    } catch (cleanup) {
      // the next apply removes a half-written backup; the error that matters is the write's
      if (!isSystemError(cleanup)) throw cleanup;
    }
    throw fromSystemError(error, "write backup", host.display(file));
  }
  return file;
}

/** The tar of everything `plan` replaces, removes or repairs, named by host path, and its manifest. */
async function archiveOf(id: string, plan: Plan): Promise<Buffer> {
  const { pack } = await import("tar-stream");
  const archive = pack();
  const chunks: Buffer[] = [];
  archive.on("data", (chunk) => chunks.push(chunk as Buffer));
  const finished = new Promise<void>((resolve, reject) => {
    archive.on("end", resolve);
    archive.on("error", reject);
  });
  const manifest: BackupManifest = {
    version: 1,
    transaction: id,
    createdAt: new Date().toISOString(),
    createdFiles: plan.files.filter((step) => step.action === "create").map((step) => step.desired.path),
    createdDirectories: plan.directories.filter((step) => step.action === "create").map((step) => step.desired.path),
  };
  archive.entry({ name: MANIFEST_NAME, mode: 0o600, mtime: new Date() }, `${JSON.stringify(manifest, null, 1)}\n`);
  attempt("back up", BACKUP_DIRECTORY, () => {
    for (const step of plan.files) if (step.action === "replace" || step.action === "repair") addEntry(archive, step.desired.path, step.realPath);
    for (const step of plan.removals) addEntry(archive, step.path, step.realPath);
    for (const step of plan.directories) {
      if (step.action !== "repair") continue;
      const { uid, gid, mode, mtimeMs } = step.current!;
      archive.entry({ name: step.desired.path.slice(1), type: "directory", mode, uid, gid, ...mtimeHeader(mtimeMs) });
    }
  });
  archive.finalize();
  await finished;
  return Buffer.concat(chunks);
}

/** One file, or a directory with everything in it, as `hostPath` (where it really is: `realPath`). */
function addEntry(archive: Pack, hostPath: HostPath, realPath: RealPath): void {
  const stat = fs.lstatSync(realPath);
  const header = { name: hostPath.slice(1), ...ownershipOf(stat), ...mtimeHeader(stat.mtimeMs) };
  if (stat.isDirectory()) {
    archive.entry({ ...header, type: "directory" });
    for (const child of fs.readdirSync(realPath).sort()) addEntry(archive, `${hostPath}/${child}`, realChild(realPath, child));
  } else if (stat.isFile()) {
    archive.entry({ ...header, type: "file" }, fs.readFileSync(realPath));
  } else {
    throw new AgentError(ExitCode.cannotCreate, `${hostPath} is neither a file nor a directory; the agent does not remove it`);
  }
}

/** The newest backup, or undefined when there is none. */
export function newestBackup(directory: RealPath): RealPath | undefined {
  const all = listBackups(directory);
  return all.length === 0 ? undefined : realChild(directory, all[all.length - 1]!);
}

/**
 * Reads a backup defensively: it may be cut short (a full disk, a crash), damaged by hand,
 * or not a file at all. Anything wrong with it is one error (exit 74) that names it, says
 * nothing was changed, and how to skip it: the next rollback uses the one before it.
 */
export async function readBackup(host: HostRoot, file: RealPath): Promise<Backup> {
  const shown = host.display(file);
  const damaged = (reason: string, cause?: unknown): AgentError =>
    new AgentError(ExitCode.ioError, `backup ${shown} cannot be read: ${reason}; nothing was changed`, `set it aside, and the next rollback uses the backup before it: mv -- ${shellWords(file, `${file}.damaged`)}`, shown, { cause });
  let bytes: Buffer;
  try {
    bytes = withReadOnlyFile(file, (fd) => {
      if (!fs.fstatSync(fd).isFile()) throw new Error("it is not a regular file");
      return fs.readFileSync(fd);
    });
  } catch (error) {
    const code = ((error as { cause?: NodeJS.ErrnoException }).cause ?? (error as NodeJS.ErrnoException)).code;
    throw damaged(code === "ELOOP" ? "it is a symlink" : code === undefined ? messageOf(error) : describeErrno(code), error);
  }
  let parsed: { manifest: unknown; entries: BackupEntry[] };
  try {
    parsed = await extractEntries(bytes);
  } catch (error) {
    throw damaged(`it is not a complete tar archive (${messageOf(error)})`, error);
  }
  const problem = backupProblem(parsed.manifest, parsed.entries);
  if (problem !== undefined) throw damaged(problem);
  return { file, manifest: parsed.manifest as BackupManifest, entries: parsed.entries };
}

/** The archive's entries, and its manifest as parsed (unchecked); rejects on any damage. */
async function extractEntries(bytes: Buffer): Promise<{ manifest: unknown; entries: BackupEntry[] }> {
  const { extract } = await import("tar-stream");
  const reader = extract();
  const entries: BackupEntry[] = [];
  let manifest: unknown;
  await new Promise<void>((resolve, reject) => {
    reader.on("entry", (header, stream, next) => {
      const parts: Buffer[] = [];
      stream.on("data", (part) => parts.push(part as Buffer));
      // A cut-short archive fails inside an entry's stream, not only on the reader.
      stream.on("error", reject);
      stream.on("end", () => {
        const content = Buffer.concat(parts);
        if (header.name === MANIFEST_NAME) manifest = parseManifest(content);
        else if (header.type === "file" || header.type === "directory") entries.push(entryOf(header, content));
        next();
      });
      stream.resume();
    });
    reader.on("finish", resolve);
    reader.on("error", reject);
    reader.end(bytes);
  });
  return { manifest, entries };
}

function parseManifest(content: Buffer): unknown {
  try {
    return JSON.parse(content.toString("utf8"));
  } catch {
    return "not JSON";
  }
}

function entryOf(header: { name: string; type?: string | null; mode?: number; uid?: number; gid?: number; mtime?: Date; pax?: unknown }, content: Buffer): BackupEntry {
  return {
    path: `/${header.name.replace(/\/$/, "")}`,
    type: header.type === "directory" ? "directory" : "file",
    mode: (header.mode ?? 0o600) & 0o7777,
    uid: header.uid ?? 0,
    gid: header.gid ?? 0,
    mtime: preciseMtime(header),
    content,
  };
}

/** What makes a parsed backup unusable: no manifest of ours, or a path that is not a plain absolute one. */
function backupProblem(manifest: unknown, entries: readonly BackupEntry[]): string | undefined {
  const plain = (value: unknown): boolean => typeof value === "string" && value.startsWith("/") && value === path.posix.normalize(value) && !value.split("/").includes("..");
  if (!isObject(manifest) || manifest.version !== 1) return "it has no typhoon-agent manifest";
  const lists = [manifest.createdFiles, manifest.createdDirectories];
  if (!lists.every((list) => Array.isArray(list) && list.every(plain))) return "its manifest does not list the created paths";
  const odd = entries.find((entry) => !plain(entry.path) || entry.path === "/" || Number.isNaN(entry.mtime.getTime()));
  return odd === undefined ? undefined : "it holds an entry that is not a plain path below the root";
}

/**
 * A tar header's mtime holds whole seconds; the PAX record keeps the fraction, so a
 * rollback gives a file back its mtime to the millisecond.
 */
function mtimeHeader(mtimeMs: number): { mtime: Date; pax: { mtime: string } } {
  return { mtime: new Date(mtimeMs), pax: { mtime: (mtimeMs / 1000).toFixed(6) } };
}

/** Keeps the newest `keep` backups. */
export function pruneBackups(directory: RealPath, keep = KEEP_BACKUPS): void {
  const all = listBackups(directory);
  const expired = all.slice(0, Math.max(0, all.length - keep));
  for (const name of expired) attempt("remove the old backup", `${BACKUP_DIRECTORY}/${name}`, () => fs.rmSync(path.join(directory, name), { force: true }));
}

/** Host paths of backups a killed apply, or a full disk, left half-written (`<id>.tar.tmp`: they hold keys, and no rollback can use them). */
export function halfWrittenBackups(directory: RealPath): string[] {
  return backupFiles(directory, `${BACKUP_SUFFIX}${TEMP_SUFFIX}`).map((name) => `${BACKUP_DIRECTORY}/${name}`);
}

function preciseMtime(header: { mtime?: Date; pax?: unknown }): Date {
  const seconds = (header.pax as { mtime?: string } | undefined)?.mtime;
  return seconds === undefined ? (header.mtime ?? new Date()) : new Date(Number(seconds) * 1000);
}

function listBackups(directory: string): string[] {
  return backupFiles(directory, BACKUP_SUFFIX).sort();
}

/** Names in `directory` that are a transaction id followed by `suffix`. */
function backupFiles(directory: string, suffix: string): string[] {
  return listIfExists(directory, BACKUP_DIRECTORY).filter((name) => name.endsWith(suffix) && isTransactionId(name.slice(0, -suffix.length)));
}
