// typhoon-agent: the on-node agent for Typhoon Kubernetes clusters.
// This file only wires the commands to yargs and turns every outcome into an exit code;
// each command lives in agent/commands/.

import yargs from "yargs";
import packageJson from "../package.json" with { type: "json" };
import { AgentError, ExitCode } from "./errors.ts";
import { packCommand } from "./commands/pack.ts";
import { unpackCommand } from "./commands/unpack.ts";

/** Set explicitly: a compiled binary has no package.json for yargs to find. */
export const VERSION = packageJson.version;

const DESCRIPTION = `Installs a Typhoon controller or worker from the asset bundle Terraform renders:
certificates with least-privilege owners and modes, kubelet.service and the static pods,
as one transaction, reported to the systemd journal.`;

export async function main(argv: readonly string[]): Promise<number> {
  const cli = yargs([...argv])
    .scriptName("typhoon-agent")
    .usage(`$0 <command> [options]\n\n${DESCRIPTION}`)
    .command(unpackCommand)
    .command(packCommand)
    .demandCommand(1, "name a command; see typhoon-agent --help")
    .recommendCommands()
    .strict()
    .version(VERSION)
    .alias("h", "help")
    .help()
    .wrap(helpWidth(argv))
    .epilogue(
      "Exit codes: 0 ok, 1 failed (rolled back), 2 usage, 65 bad bundle, 66 no input, 67 no such user,\n" +
        "73 cannot create, 74 I/O error, 75 busy (another apply holds the lock), 78 bad config.",
    )
    .exitProcess(false)
    .fail((message, error) => {
      throw error ?? new AgentError(ExitCode.usage, message ?? "invalid usage", "see typhoon-agent --help");
    });
  try {
    await cli.parseAsync();
    return ExitCode.ok;
  } catch (error) {
    return report(error);
  }
}

function report(error: unknown): number {
  if (error instanceof AgentError) {
    process.stderr.write(`typhoon-agent: ${error.message}\n`);
    if (error.hint !== undefined) process.stderr.write(`typhoon-agent: hint: ${error.hint}\n`);
    return error.exitCode;
  }
  process.stderr.write(`typhoon-agent: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  return ExitCode.failed;
}

/** Help is laid out for the terminal; asking the terminal its width is only worth it then. */
function helpWidth(argv: readonly string[]): number {
  const wantsHelp = argv.length === 0 || argv.includes("--help") || argv.includes("-h");
  return wantsHelp ? Math.min(110, process.stdout.columns ?? 80) : 80;
}

process.exitCode = await main(process.argv.slice(2));
