// `render agent-config`: the configuration the agent would act on, as an agent.yaml an
// operator can read (each key with where its value came from) and feed back unchanged.

import { dump } from "js-yaml";
import { CONFIG_KEY_LIST, flagName } from "./keys.ts";
import type { LoadedConfig } from "./load.ts";

export function renderEffectiveConfig(loaded: LoadedConfig): string {
  const header = `# Effective typhoon-agent configuration (${loaded.source ?? "no configuration file: defaults and flags"})`;
  const lines = CONFIG_KEY_LIST.map((key) => {
    const value = loaded.config[key.name];
    const origin = loaded.origins[key.name];
    const from = origin === "flag" ? `--${flagName(key.name)}` : origin;
    if (value === undefined) return `# ${key.name}: unset (${from})`;
    // Lists on one line, in flow style, so every key stays one line with its origin.
    return `${dump({ [key.name]: value }, { flowLevel: 1, lineWidth: -1 }).trimEnd()}  # ${from}`;
  });
  return [header, ...lines].join("\n");
}
