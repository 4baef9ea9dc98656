// The install record (INSTALL_RECORD): what the last apply installed and, on a controller,
// from which bundle. The desired state holds it as one more file, so the same transaction
// writes it as the files it names; the next apply's removals read its files, the apply
// metrics its bundle. verify reads the list more strictly, as what it must check.

import { readTextIfExists } from "../fsio/read-only.ts";
import type { HostRoot } from "../hostfs/host-root.ts";
import { INSTALL_RECORD } from "../paths.ts";

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
 * bundle digest of 64 hex digits. No record (a first apply), or one that is not JSON (from
 * elsewhere, or cut short), names nothing; one that cannot be read is an error.
 */
export function readInstallRecord(host: HostRoot): InstallRecord {
  const text = readTextIfExists(host.file(INSTALL_RECORD), "read", INSTALL_RECORD);
  if (text === undefined) return { files: [] };
  let record: { files?: unknown; bundle?: { sha256?: unknown } } | null;
  try {
    record = JSON.parse(text) as typeof record;
  } catch {
    return { files: [] };
  }
  const files = Array.isArray(record?.files) ? record.files.filter((file): file is string => typeof file === "string" && file.startsWith("/")) : [];
  const sha256 = record?.bundle?.sha256;
  return { files, ...(typeof sha256 === "string" && SHA256.test(sha256) ? { bundle: { sha256 } } : {}) };
}
