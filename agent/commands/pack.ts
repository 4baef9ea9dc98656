import * as fs from "node:fs";
import * as path from "node:path";
import type { Argv, CommandModule } from "yargs";
import { AgentError, ExitCode, UsageError, attempt, exitCodeHelp, fromSystemError } from "../errors.ts";
import { pathValue } from "./option-checks.ts";
import type { PackResult } from "../unpack/pack.ts";
import { kindOf, removeIfPresent, statIfExists } from "../fsio/read-only.ts";
import { CREATE_NEW, isClosedPipe } from "../fsio/write-all.ts";
import { say, sayDone } from "../report/console.ts";
import { counted, formatBytes } from "../report/format.ts";

interface PackArgs {
  directory: string;
  output: string | undefined;
}

export const packCommand: CommandModule<object, PackArgs> = {
  command: "pack <directory>",
  describe: "Pack a directory tree into a bundle (the inverse of unpack)",
  builder: (yargs) =>
    (yargs as Argv<object>)
      .positional("directory", { type: "string", demandOption: true, coerce: pathValue("<directory>", "a directory"), describe: "tree whose files become the assets" })
      .option("output", { alias: "o", type: "string", requiresArg: true, coerce: pathValue("output", "a file, or - for standard output", { stdin: true }), describe: "write the bundle here (mode 0600; - for standard output, the default)" })
      .example("$0 pack /tmp/assets -o assets", "keys sorted by bytes, joined like Terraform's join(\"\\n\", ...)")
      .epilogue(exitCodeHelp()) as Argv<PackArgs>,
  handler: async (args) => {
    // Loaded on use, like every command's modules: other commands do not pay for them at start-up.
    const [packer, { catchSignals }] = await Promise.all([import("../unpack/pack.ts"), import("../transaction/guard.ts")]);
    // Caught for the whole run: a signal stops it between assets, and -o's temporary file goes.
    const signals = catchSignals();
    try {
      const between = (): Promise<void> => signals.checkpoint();
      const toStdout = args.output === undefined || args.output === "-";
      const result = toStdout ? await packToStdout(packer, args.directory, between) : await packToFile(packer, args.directory, args.output!, between);
      // The bundle itself may be standard output: then the result line is a diagnostic.
      const line = result === undefined ? undefined : `packed ${counted(result.assets, "asset")} (${formatBytes(result.bytes)})`;
      if (line !== undefined) (toStdout ? say : sayDone)(line);
    } finally {
      signals.release();
    }
  },
};

type Packer = typeof import("../unpack/pack.ts");

/** Undefined when the reader stopped reading (`| head -c 10`): no more to write, nothing to report. */
async function packToStdout({ preparePack, writePack }: Packer, directory: string, between: () => Promise<void>): Promise<PackResult | undefined> {
  const { isatty } = await import("node:tty");
  if (isatty(1)) {
    throw new UsageError("refusing to write a bundle (it holds private keys) to a terminal", "use -o FILE or redirect standard output");
  }
  const names = preparePack(directory);
  try {
    return await writePack(directory, names, 1, between);
  } catch (error) {
    if (isClosedPipe(error)) return undefined;
    throw fromSystemError(error, "write", "standard output");
  }
}

/** Writes next to the destination and renames, so a failed or interrupted pack leaves no partial bundle. */
async function packToFile({ preparePack, writePack }: Packer, directory: string, output: string, between: () => Promise<void>): Promise<PackResult> {
  refuseSpecialOutput(output);
  const names = preparePack(directory);
  await between();
  const temporary = path.join(path.dirname(output), `.${path.basename(output)}.${process.pid}.tmp`);
  let fd = attempt("create", temporary, () => fs.openSync(temporary, CREATE_NEW, 0o600));
  try {
    const result = await writePack(directory, names, fd, between);
    fs.closeSync(fd);
    fd = -1;
    await between();
    refuseSpecialOutput(output);
    fs.renameSync(temporary, output);
    return result;
  } catch (error) {
    if (fd >= 0) fs.closeSync(fd);
    try {
      removeIfPresent(temporary);
    } catch {
      // left beside the output under its pid's name; the error that matters is the write's
    }
    throw fromSystemError(error, "write", output);
  }
}

/**
 * -o replaces FILE by a rename: over /dev/null, a FIFO or a link it would put a root-only file
 * holding every key in its place (/dev/null is where "just check it packs" would send it).
 */
function refuseSpecialOutput(output: string): void {
  const found = kindOf(statIfExists(output));
  if (found === undefined || found === "regular file") return;
  throw new AgentError(
    ExitCode.cannotCreate,
    `${output} is a ${found}, not a regular file: pack -o replaces FILE with the bundle, and will not replace that`,
    "name a new or regular file; to write to a device, a pipe or a link, write to standard output (leave -o out) and redirect it",
    output,
  );
}
