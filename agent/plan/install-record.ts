// The install record (INSTALL_RECORD): what the last apply installed and, on a controller,
// from which bundle. The desired state holds it as one more file, so the same transaction
// writes it as the files it names; the next apply's removals read its files, the apply
// metrics its bundle. verify reads the list more strictly, as what it must check.

import { AgentError, ExitCode, messageOf } from "../errors.ts";
import { readTextIfExists } from "../fsio/read-only.ts";
import type { HostRoot } from "../hostfs/host-root.ts";
import { isObject } from "../json.ts";
import { BACKUP_DIRECTORY, INSTALL_RECORD } from "../paths.ts";

interface InstallRecord {
  /** Host paths, sorted. */
  files: string[];
  /** The bundle the files came from, by its SHA-256; absent on a worker. */
  bundle?: { sha256: string };
}

export function installRecordContent(files: readonly string[], bundleSha256: string | undefined): Buffer {
  const record: InstallRecord = { files: [...files].sort(), ...(bundleSha256 === undefined ? {} : { bundle: { sha256: bundleSha256 } }) };
  return Buffer.from(`${JSON.stringify(record, null, 1)}\n`);
}

const SHA256 = /^[0-9a-f]{64}$/;

/**
 * The record the last apply left, as far as it is the agent's: absolute paths, and a
 * bundle digest of 64 hex digits. No record (a first apply) names nothing. One that cannot
 * be read, or is not the agent's (not JSON, no list of files: the transaction writes it
 * whole, so only a hand edit breaks it), is an error: taken for empty, it would leave every
 * stale file of the last bundle behind.
 */
export function readInstallRecord(host: HostRoot): InstallRecord {
  const text = readTextIfExists(host.file(INSTALL_RECORD), "read", INSTALL_RECORD);
  if (text === undefined) return { files: [] };
  let record: unknown;
  try {
    record = JSON.parse(text);
  } catch (error) {
    throw unusableRecord(`is not valid JSON (${messageOf(error)})`, error);
  }
  if (!isObject(record) || !Array.isArray(record.files)) throw unusableRecord("has no list of files");
  const files = record.files.filter((file): file is string => typeof file === "string" && file.startsWith("/"));
  const sha256 = isObject(record.bundle) ? record.bundle.sha256 : undefined;
  return { files, ...(typeof sha256 === "string" && SHA256.test(sha256) ? { bundle: { sha256 } } : {}) };
}

function unusableRecord(problem: string, cause?: unknown): AgentError {
  return new AgentError(
    ExitCode.ioError,
    `${INSTALL_RECORD} ${problem}`,
    `it names the files the last apply installed, so this one can remove those the bundle no longer has: restore it from the newest backup in ${BACKUP_DIRECTORY}, or delete it to apply without removing stale files`,
    INSTALL_RECORD,
    { cause },
  );
}
