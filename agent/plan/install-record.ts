// The install record (INSTALL_RECORD), written by the same transaction as the files it
// lists: every file the apply installed, the configuration it installed them with (the role,
// and the runtime as resolved) and, on a controller, the bundle they came from. The next
// apply reads it to find what it no longer installs and to refuse a role it did not ask to
// change; verify reads it to check what was installed, the way it was installed; the apply
// metrics name its bundle. One reader and one writer, here.

import { checkedConfig } from "../config/load.ts";
import type { AgentConfig, Role, Runtime } from "../config/types.ts";
import { ConfigError } from "../errors.ts";
import { readTextIfExists } from "../fsio/read-only.ts";
import type { HostRoot } from "../hostfs/host-root.ts";
import { isObject } from "../json.ts";
import { INSTALL_RECORD, PKI_DIRECTORY, STATIC_POD_DIRECTORY } from "../paths.ts";

/** The configuration an install was made with: `runtime` as it was resolved, never "auto". */
type InstalledConfig = Omit<AgentConfig, "runtime"> & { runtime: Runtime };

export interface InstallRecord {
  /** Host paths, sorted. */
  files: string[];
  /** Undefined in a record an older agent wrote. */
  config: InstalledConfig | undefined;
  /** The bundle the files came from, by its SHA-256; absent on a worker. */
  bundle?: { sha256: string };
}

/** The record's bytes, as the transaction installs them. */
export function installRecordContent(files: readonly string[], config: AgentConfig, runtime: Runtime, bundleSha256: string | undefined): Buffer {
  const record: InstallRecord = { files: [...files].sort(), config: { ...config, runtime }, ...(bundleSha256 === undefined ? {} : { bundle: { sha256: bundleSha256 } }) };
  return Buffer.from(`${JSON.stringify(record, null, 1)}\n`);
}

/**
 * The record below `host`: undefined when there is none (nothing installed yet), or what is
 * wrong with it (`damaged`), in words that never quote it. A record that cannot be read at
 * all (EACCES, EIO) is an error: taking it for absent would leave stale files behind.
 */
export function readInstallRecord(host: HostRoot): { record: InstallRecord } | { damaged: string } | undefined {
  const text = readTextIfExists(host.file(INSTALL_RECORD), "read", INSTALL_RECORD);
  if (text === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { damaged: `${INSTALL_RECORD} is not valid JSON (cut short, or edited by hand)` };
  }
  const files = isObject(parsed) ? parsed.files : undefined;
  if (!Array.isArray(files) || !files.every((file): file is string => typeof file === "string" && file.startsWith("/") && !file.split("/").includes(".."))) {
    return { damaged: `${INSTALL_RECORD} has no list of absolute paths under "files"` };
  }
  const bundle = bundleOf(parsed);
  const recorded = isObject(parsed) ? parsed.config : undefined;
  if (recorded === undefined) return { record: { files, config: undefined, ...bundle } };
  const config = isObject(recorded) ? installedConfig(recorded) : undefined;
  return config === undefined ? { damaged: `${INSTALL_RECORD} holds a configuration this agent does not accept` } : { record: { files, config, ...bundle } };
}

const SHA256 = /^[0-9a-f]{64}$/;

/** The bundle's digest when it is 64 hex digits; anything else names no bundle. */
function bundleOf(parsed: unknown): { bundle: { sha256: string } } | Record<string, never> {
  const sha256 = isObject(parsed) && isObject(parsed.bundle) ? parsed.bundle.sha256 : undefined;
  return typeof sha256 === "string" && SHA256.test(sha256) ? { bundle: { sha256 } } : {};
}

/** The recorded configuration, checked like agent.yaml (it feeds the same renderers); undefined when it fails. */
function installedConfig(values: Record<string, unknown>): InstalledConfig | undefined {
  try {
    const config = checkedConfig(values, INSTALL_RECORD);
    return config.runtime === "auto" ? undefined : { ...config, runtime: config.runtime };
  } catch (error) {
    if (error instanceof ConfigError) return undefined;
    throw error;
  }
}

/** The role a record was installed as; an older record says it by holding control-plane files or not. */
export function installedRole(record: InstallRecord): Role {
  if (record.config !== undefined) return record.config.role;
  const controlPlane = record.files.some((file) => file.startsWith(`${PKI_DIRECTORY}/`) || file.startsWith(`${STATIC_POD_DIRECTORY}/`));
  return controlPlane ? "controller" : "worker";
}

/** The SHA-256 of the bundle the node holds, as its install record names it (undefined: none, or a damaged record). */
export function installedBundleSha256(host: HostRoot): string | undefined {
  const installed = readInstallRecord(host);
  return installed !== undefined && "record" in installed ? installed.record.bundle?.sha256 : undefined;
}
