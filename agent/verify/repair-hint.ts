// The one command verify points an operator at, chosen so it works on the node verify ran on.
// A worker has no bundle: apply and plan take the flags the install was made with (those the
// recorded configuration sets differently from agent.yaml). A controller's apply needs the
// bundle, which the last apply consumed: it is delivered again (typhoon-agent.path applies
// it), or rollback returns to the previous install. Never `plan` of a bundle that is gone.
// Whatever stops that command comes first: an agent.yaml that does not load (every apply and
// plan refuses it), and a value no flag can give ("" or an empty list), named as its line.

import { CONFIG_KEY_LIST, DEFAULT_CONFIG_PATH, defaultConfig, flagName } from "../config/keys.ts";
import type { AgentConfig } from "../config/types.ts";
import { ConfigError } from "../errors.ts";
import { BUNDLE_PATH } from "../paths.ts";
import { installedRole, type InstallRecord } from "../plan/install-record.ts";
import { shellWord, shellWords } from "../shell-word.ts";
import { resolveRuntime } from "../units/node-files.ts";
import type { CurrentConfig } from "./expected.ts";

const DELIVER_AGAIN = `deliver the bundle again to ${BUNDLE_PATH}, where typhoon-agent.path applies it`;

/** For a record verify cannot read: what rewrites it, on either role. */
export const DAMAGED_RECORD_HINT =
  `an apply rewrites it: on a worker, sudo typhoon-agent apply --role worker with the flags it was installed with; on a controller, ${DELIVER_AGAIN}`;

/** How an apply on this node gets the recorded configuration back: flags, and agent.yaml lines no flag can stand for. */
interface InstallSettings {
  flags: string;
  fileLines: string[];
}

export function repairHint(record: InstallRecord, current: CurrentConfig, root: string): string {
  const settings = installSettings(record, current, root);
  const before = firstSteps(current, settings.fileLines);
  if (installedRole(record) === "worker") {
    const unknown = record.config === undefined ? " (add the other flags it was installed with)" : "";
    const { flags } = settings;
    return `${before}sudo typhoon-agent plan${flags} shows what an apply with this node's configuration would change${unknown}; sudo typhoon-agent apply${flags} repairs it`;
  }
  const remote = shellWord(`sudo typhoon-agent apply -${settings.flags}`);
  const rollback = "sudo typhoon-agent rollback returns to the install before the last apply";
  if (settings.flags === "" && settings.fileLines.length === 0) {
    return `${before}apply needs the bundle, which the last apply consumed: ${DELIVER_AGAIN} (or: ssh core@NODE ${remote} < assets); ${rollback}`;
  }
  // The two ways differ: the path unit's plain apply installs agent.yaml as it is now, the flags the last install's values.
  return `${before}apply needs the bundle, which the last apply consumed: ${DELIVER_AGAIN} with ${DEFAULT_CONFIG_PATH} as it is now; or, to install the configuration of the last install instead: ssh core@NODE ${remote} < assets; ${rollback}`;
}

/** What must be done to agent.yaml before any apply or plan runs as hinted ("" when nothing). */
function firstSteps(current: CurrentConfig, fileLines: readonly string[]): string {
  const set = fileLines.length === 0 ? "" : `set in ${current.path} (no flag can give ${fileLines.length === 1 ? "it" : "them"}): ${fileLines.join("; ")}`;
  if ("loaded" in current) return set === "" ? "" : `first ${set}; then `;
  const aside = current.path === DEFAULT_CONFIG_PATH ? ` (or move it aside: sudo mv -- ${shellWords(current.path, `${current.path}.broken`)})` : "";
  return `first fix ${current.path}, which does not load and stops every apply and plan${aside}${set === "" ? "" : `, and ${set}`}; then `;
}

/**
 * The settings that make a plain apply on this node use the recorded configuration: each key
 * it holds differently from agent.yaml (or, when that does not load, from the defaults), as a
 * flag, or as an agent.yaml line when no flag can give it. An older record holds none but the role.
 */
function installSettings(record: InstallRecord, current: CurrentConfig, root: string): InstallSettings {
  const baseline: AgentConfig = "loaded" in current ? current.withoutFlags : defaultConfig();
  const recorded: Partial<AgentConfig> = record.config ?? { role: installedRole(record) };
  const words: string[] = current.path === DEFAULT_CONFIG_PATH ? [] : [`--config ${shellWord(current.path)}`];
  const fileLines: string[] = [];
  for (const { name, kind } of CONFIG_KEY_LIST) {
    const value = recorded[name];
    if (JSON.stringify(value) === JSON.stringify(baselineValue(baseline, name, root))) continue;
    if (value === undefined) {
      // A key the install left unset (cloud_provider): only its absence from agent.yaml says so.
      if (record.config !== undefined) fileLines.push(`no ${name} line`);
      continue;
    }
    const values = kind === "list" ? (value as readonly string[]) : [String(value)];
    if (values.length === 0 || values.some((item) => item === "")) fileLines.push(`${name}: ${JSON.stringify(value)}`);
    else for (const item of values) words.push(`--${flagName(name)} ${shellWord(item)}`);
  }
  return { flags: words.map((word) => ` ${word}`).join(""), fileLines };
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
