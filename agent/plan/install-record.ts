// The install record (/var/lib/typhoon-agent/installed.json), written by the same transaction
// as the files it lists: every file the apply installed, and the configuration it installed
// them with (the role, and the runtime as resolved). The next apply reads it to find what it
// no longer installs and to refuse a role it did not ask to change; verify reads it to check
// what was installed, the way it was installed. One reader and one writer, here.

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
}

/** The record's bytes, as the transaction installs them. */
export function installRecordContent(files: readonly string[], config: AgentConfig, runtime: Runtime): Buffer {
  const record: InstallRecord = { files: [...files].sort(), config: { ...config, runtime } };
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
  const recorded = isObject(parsed) ? parsed.config : undefined;
  if (recorded === undefined) return { record: { files, config: undefined } };
  const config = isObject(recorded) ? installedConfig(recorded) : undefined;
  return config === undefined ? { damaged: `${INSTALL_RECORD} holds a configuration this agent does not accept` } : { record: { files, config } };
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
