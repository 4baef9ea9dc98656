// typhoon-agent: the on-node agent for Typhoon Kubernetes clusters.
// This file only wires the commands to yargs and turns every outcome into an exit code;
// each command lives in agent/commands/.

import yargs from "yargs";
import { AgentError, ExitCode, exitCodeHelp } from "./errors.ts";
import { RENAMED_KEYS, flagName } from "./config/keys.ts";
import { closestName } from "./config/suggest.ts";
import { explainFailure, say } from "./report/console.ts";
import { applyCommand, planCommand } from "./commands/apply.ts";
import { packCommand } from "./commands/pack.ts";
import { renderCommand } from "./commands/render.ts";
import { rollbackCommand } from "./commands/rollback.ts";
import { unpackCommand } from "./commands/unpack.ts";
import { verifyCommand } from "./commands/verify.ts";
import { COMPLETION_DESCRIPTION, asDocumented, checkCompletion } from "./commands/completion.ts";
import { STDIN_PLACEHOLDER, usageErrorFor } from "./commands/option-checks.ts";
import { VERSION } from "./version.ts";

// One paragraph each: yargs wraps help text to the terminal and would keep a hard newline mid-line.
const DESCRIPTION =
  "Installs a Typhoon controller or worker from the asset bundle Terraform renders: certificates with least-privilege owners and modes, kubelet.service and the static pods, as one transaction, reported to the systemd journal.";

export async function main(argv: readonly string[]): Promise<number> {
  const cli = yargs(argv.map((argument) => (argument === "-" ? STDIN_PLACEHOLDER : argument)))
    .scriptName("typhoon-agent")
    .usage(`$0 <command> [options]\n\n${DESCRIPTION}`)
    .command(applyCommand)
    .command(planCommand)
    .command(rollbackCommand)
    .command(verifyCommand)
    .command(unpackCommand)
    .command(packCommand)
    .command(renderCommand)
    .completion("completion", COMPLETION_DESCRIPTION, asDocumented((): string[] => onByDefault(cli)))
    .middleware((parsed) => {
      for (const [key, value] of Object.entries(parsed)) if (value === STDIN_PLACEHOLDER) parsed[key] = "-";
    }, true)
    .demandCommand(1, "name a command; see typhoon-agent --help")
    .recommendCommands()
    .strict()
    .version(VERSION)
    .alias("h", "help")
    .help()
    .wrap(helpWidth(argv))
    .option("verbose", { alias: "v", type: "boolean", default: false, global: true, describe: "say more: apply and rollback also print each journal entry on standard error as it happens, plan lists unchanged paths, an internal error (exit 70) prints its stack" })
    .epilogue(exitCodeHelp())
    .exitProcess(false)
    .fail((message, error) => {
      // yargs' own complaints (an unknown flag, a value a coerce check refused) come as a
      // message or a YError, a command's failure as the error it threw.
      if (error === undefined || error === null || error.name === "YError") {
        const text = message ?? error?.message ?? "invalid usage";
        const refused = usageErrorFor(text);
        if (refused !== undefined) throw refused;
        const unknown = unknownFlags(text, declaredFlags(cli), argv);
        throw new AgentError(ExitCode.usage, unknown?.message ?? text, unknown?.hint ?? "see typhoon-agent --help");
      }
      throw error;
    });
  skipHelpRendering(cli);
  try {
    checkCompletion(argv, process.env.SHELL ?? "");
    await cli.parseAsync();
    return ExitCode.ok;
  } catch (error) {
    return report(error, argv.includes("-v") || argv.includes("--verbose"));
  }
}

/** The options declared for the command being parsed (yargs keeps them, untyped, on the instance). */
function declaredFlags(cli: object): string[] {
  const options = (cli as { getOptions?: () => { key?: Record<string, unknown> } }).getOptions?.();
  return Object.keys(options?.key ?? {});
}

/** The boolean flags of the command being parsed that are on unless negated (--no-start). */
function onByDefault(cli: object): string[] {
  const options = (cli as { getOptions?: () => { boolean?: string[]; default?: Record<string, unknown> } }).getOptions?.();
  return (options?.boolean ?? []).filter((name) => options?.default?.[name] === true);
}

/**
 * yargs' "Unknown arguments: keep-bundel, keepBundel" (it lists a kebab-case flag twice),
 * said once per flag, with a hint: a renamed configuration flag, or the closest flag this
 * command has.
 */
function unknownFlags(message: string, known: readonly string[], argv: readonly string[]): { message: string; hint: string | undefined } | undefined {
  const listed = /^Unknown arguments?: (.*)$/.exec(message)?.[1];
  if (listed === undefined) return undefined;
  const flags = known.filter((name) => name.length > 1 && !/[A-Z]/.test(name));
  const unknown = listed.split(", ").filter((name) => !/[A-Z]/.test(name));
  const hints = unknown.flatMap((name) => {
    const renamed = RENAMED_KEYS[name.replaceAll("-", "_")];
    if (renamed !== undefined) return [`--${name} was renamed to --${flagName(renamed)}`];
    const closest = closestName(name, flags);
    return closest === undefined ? [] : [`did you mean --${closest} (not --${name})?`];
  });
  const shown = unknown.map((name) => flagAsTyped(name, argv)).join(", ");
  return { message: `unknown option${unknown.length === 1 ? "" : "s"} ${shown}`, hint: hints.length === 0 ? undefined : hints.join("; ") };
}

/** An unknown flag as the operator typed it: yargs reports `--no-start` as "start". */
function flagAsTyped(name: string, argv: readonly string[]): string {
  if (name.length === 1) return `-${name}`;
  const typed = (flag: string): boolean => argv.some((word) => word === flag || word.startsWith(`${flag}=`));
  return typed(`--no-${name}`) && !typed(`--${name}`) ? `--no-${name}` : `--${name}`;
}

function report(error: unknown, verbose: boolean): number {
  const { exitCode, lines } = explainFailure(error, verbose);
  for (const line of lines) say(line);
  return exitCode;
}

/**
 * After every command handler, yargs renders the whole help text and caches it, in case
 * a later failure wants to print it (measured: ~10 ms per run, as long as the apply
 * itself). Our failures print one line and a hint, never the help, so the rendering is
 * switched off; --help still renders on demand.
 */
function skipHelpRendering(cli: object): void {
  const internals = (cli as { getInternalMethods?: () => { getUsageInstance(): { cacheHelpMessage(): void } } }).getInternalMethods?.();
  if (internals !== undefined) internals.getUsageInstance().cacheHelpMessage = () => {};
}

/** Help is laid out for the terminal; asking the terminal its width is only worth it then. */
function helpWidth(argv: readonly string[]): number {
  const wantsHelp = argv.length === 0 || argv.includes("--help") || argv.includes("-h");
  return wantsHelp ? Math.min(110, process.stdout.columns ?? 80) : 80;
}
