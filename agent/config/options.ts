// The command-line side of the configuration: every command that reads the agent
// configuration (apply, plan, render) declares the same options through configOptions(),
// one flag per key of the table, and hands them to loadConfig() through flagsFromArgs().
// Values stay unparsed strings here so a bad flag gets the same exit 78 message as a bad
// line in the file.

import type { Argv } from "yargs";
import { existingDirectory, nonEmpty, pathValue } from "../commands/option-checks.ts";
import { CONFIG_KEY_LIST, DEFAULT_CONFIG_PATH, describeDefault, flagName } from "./keys.ts";
import type { ConfigFlags } from "./load.ts";

export interface ConfigArgs {
  root: string;
  config: string | undefined;
}

/** `--root DIR`, for every command that touches the host: "/" only when left out or spelled so. */
export const ROOT_OPTION = {
  type: "string",
  requiresArg: true,
  default: "/",
  coerce: existingDirectory("root", "a directory"),
  describe: "operate on the tree at DIR, an existing directory, instead of / (every absolute host path is taken below it)",
} as const;

const CONFIG_GROUP = `Configuration (flags override ${DEFAULT_CONFIG_PATH}):`;

export function configOptions<T>(yargs: Argv<T>): Argv<T & ConfigArgs> {
  let declared = yargs
    .option("root", ROOT_OPTION)
    .option("config", {
      type: "string",
      requiresArg: true,
      coerce: pathValue("config", "a configuration file"),
      describe: "agent configuration file, read as given",
      defaultDescription: `ROOT${DEFAULT_CONFIG_PATH} when it exists`,
    }) as Argv<T & ConfigArgs>;
  for (const key of CONFIG_KEY_LIST) {
    declared = declared.option(flagName(key.name), {
      type: "string",
      requiresArg: true,
      // One item per occurrence: a greedy list would swallow the positional that follows it.
      ...(key.kind === "list" ? { array: true, nargs: 1 } : {}),
      coerce: nonEmpty(flagName(key.name), { list: key.kind === "list" }),
      describe: `${key.description}; ${key.form}`,
      defaultDescription: describeDefault(key),
    });
  }
  return declared.group(["config", ...CONFIG_KEY_LIST.map((key) => flagName(key.name))], CONFIG_GROUP);
}

/** The configuration flags the operator gave (absent ones stay absent: the file decides). */
export function flagsFromArgs(args: ConfigArgs): ConfigFlags {
  const flags: ConfigFlags = {};
  for (const key of CONFIG_KEY_LIST) {
    const value = (args as unknown as Record<string, unknown>)[flagName(key.name)];
    if (value === undefined) continue;
    const given = (Array.isArray(value) ? value : [value]).map(String);
    // A scalar flag given twice: the last one wins, as with most command lines.
    flags[key.name] = key.kind === "list" ? given : given.at(-1)!;
  }
  return flags;
}
