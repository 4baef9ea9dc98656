// The one command verify points an operator at, chosen so it works on the node verify ran on.
// A worker has no bundle: apply and plan take the flags the install was made with (those the
// recorded configuration sets differently from agent.yaml). A controller's apply needs the
// bundle, which the last apply consumed: it is delivered again (typhoon-agent.path applies
// it), or rollback returns to the previous install. Never `plan` of a bundle that is gone.

import { CONFIG_KEY_LIST, defaultConfig, flagName } from "../config/keys.ts";
import type { AgentConfig } from "../config/types.ts";
import { ConfigError } from "../errors.ts";
import { BUNDLE_PATH } from "../paths.ts";
import { installedRole, type InstallRecord } from "../plan/install-record.ts";
import { resolveRuntime } from "../units/node-files.ts";
import type { CurrentConfig } from "./expected.ts";

const DELIVER_AGAIN = `deliver the bundle again to ${BUNDLE_PATH}, where typhoon-agent.path applies it`;

/** For a record verify cannot read: what rewrites it, on either role. */
export const DAMAGED_RECORD_HINT =
  `an apply rewrites it: on a worker, sudo typhoon-agent apply --role worker with the flags it was installed with; on a controller, ${DELIVER_AGAIN}`;

export function repairHint(record: InstallRecord, current: CurrentConfig, root: string): string {
  const flags = installFlags(record, current, root);
  if (installedRole(record) === "worker") {
    const unknown = record.config === undefined ? " (add the other flags it was installed with)" : "";
    return `sudo typhoon-agent plan${flags} shows what an apply with this node's configuration would change${unknown}; sudo typhoon-agent apply${flags} repairs it`;
  }
  return `apply needs the bundle, which the last apply consumed: ${DELIVER_AGAIN} (or: ssh core@NODE 'sudo typhoon-agent apply -${flags}' < assets); sudo typhoon-agent rollback returns to the install before the last apply`;
}

/**
 * The flags that make a plain apply on this node use the recorded configuration: each key it
 * holds differently from agent.yaml (or, when that does not load, from the defaults). An
 * older record holds none but the role.
 */
function installFlags(record: InstallRecord, current: CurrentConfig, root: string): string {
  const baseline: AgentConfig = "loaded" in current ? current.withoutFlags : defaultConfig();
  const recorded: Partial<AgentConfig> = record.config ?? { role: installedRole(record) };
  const words: string[] = [];
  for (const { name, kind } of CONFIG_KEY_LIST) {
    const value = recorded[name];
    if (value === undefined || JSON.stringify(value) === JSON.stringify(baselineValue(baseline, name, root))) continue;
    const values = kind === "list" ? (value as readonly string[]) : [String(value)];
    for (const item of values) words.push(`--${flagName(name)} ${shellWord(item)}`);
  }
  return words.map((word) => ` ${word}`).join("");
}

/** A runtime of auto counts as what it resolves to on this host. */
function baselineValue(baseline: AgentConfig, name: keyof AgentConfig, root: string): unknown {
  if (name !== "runtime" || baseline.runtime !== "auto") return baseline[name];
  try {
    return resolveRuntime("auto", root).runtime;
  } catch (error) {
    if (error instanceof ConfigError) return "auto";
    throw error;
  }
}

function shellWord(value: string): string {
  return /^[A-Za-z0-9_.,:=/@+-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`;
}
