// What verify compares the host with, given the install record the last apply wrote: the
// kubelet files rendered from the configuration it recorded (an older record without one:
// from agent.yaml, as apply would), and the keys agent.yaml now sets differently from it.

import { CONFIG_KEY_LIST } from "../config/keys.ts";
import type { LoadedConfig } from "../config/load.ts";
import type { AgentConfig } from "../config/types.ts";
import type { InstallRecord } from "../plan/install-record.ts";
import { NODE_FILE_MODE, NODE_FILE_PATHS, nodeFilesFor, renderNodeFiles } from "../units/node-files.ts";
import type { ExpectedNodeFile } from "./files.ts";
import type { Finding } from "./findings.ts";

/**
 * The agent configuration as it stands now (agent.yaml or --config F, then verify's own
 * flags), where it was read from, and the same without verify's flags (what a plain apply
 * would use); or why it did not load.
 */
export type CurrentConfig =
  | { path: string; loaded: Pick<LoadedConfig, "config" | "origins">; withoutFlags: AgentConfig }
  | { path: string; problem: string };

/** The configuration the checks expect: the recorded one, else the current one, else none known. */
export function expectedConfig(record: InstallRecord, current: CurrentConfig): AgentConfig | undefined {
  return record.config ?? ("loaded" in current ? current.loaded.config : undefined);
}

/** kubelet.service and kubelet.yaml as the last apply installed them; content unknown when no configuration is. */
export function expectedNodeFiles(record: InstallRecord, current: CurrentConfig, root: string): ExpectedNodeFile[] {
  if (record.config !== undefined) return renderNodeFiles(record.config, record.config.runtime);
  if ("loaded" in current) return nodeFilesFor(current.loaded.config, root).rendered;
  return NODE_FILE_PATHS.map((path) => ({ path, mode: NODE_FILE_MODE, content: undefined }));
}

/** A broken configuration is an error; one that sets keys differently from the recorded one is a warning naming them. */
export function configFindings(record: InstallRecord, current: CurrentConfig): Finding[] {
  if (!("loaded" in current)) return [{ severity: "error", check: "config", path: current.path, message: current.problem }];
  if (record.config === undefined) return [];
  const recorded = record.config;
  const { config, origins } = current.loaded;
  const changed = CONFIG_KEY_LIST.map((key) => key.name).filter(
    (name) => origins[name] !== "default" && !(name === "runtime" && config.runtime === "auto") && !sameValue(config[name], recorded[name]),
  );
  if (changed.length === 0) return [];
  return [{
    severity: "warning",
    check: "config",
    path: current.path,
    message: `sets ${changed.join(", ")} differently from the configuration the last apply installed with, which verify checks against: the next apply installs the new value`,
  }];
}

function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
