import * as fs from "node:fs";
import * as path from "node:path";
import type { Argv, CommandModule } from "yargs";
import { UsageError, attempt, exitCodeHelp, fromSystemError } from "../errors.ts";
import type { PackResult } from "../unpack/pack.ts";
import { say } from "../report/console.ts";
import { formatBytes } from "../report/format.ts";

interface PackArgs {
  directory: string;
  output: string | undefined;
}

export const packCommand: CommandModule<object, PackArgs> = {
  command: "pack <directory>",
  describe: "Pack a directory tree into a bundle (the inverse of unpack)",
  builder: (yargs) =>
    (yargs as Argv<object>)
      .positional("directory", { type: "string", demandOption: true, describe: "tree whose files become the assets" })
      .option("output", { alias: "o", type: "string", describe: "write the bundle here (mode 0600) instead of standard output" })
      .example("$0 pack /tmp/assets -o assets", "keys sorted by bytes, joined like Terraform's join(\"\\n\", ...)")
      .epilogue(exitCodeHelp()) as Argv<PackArgs>,
  handler: async (args) => {
    // Loaded on use, like every command's modules: other commands do not pay for them at start-up.
    const packer = await import("../unpack/pack.ts");
    const result = args.output === undefined ? await packToStdout(packer, args.directory) : packToFile(packer, args.directory, args.output);
    say(`packed ${result.assets} assets (${formatBytes(result.bytes)})`);
  },
};

type Packer = typeof import("../unpack/pack.ts");

async function packToStdout({ preparePack, writePack }: Packer, directory: string): Promise<PackResult> {
  const { isatty } = await import("node:tty");
  if (isatty(1)) {
    throw new UsageError("refusing to write a bundle (it holds private keys) to a terminal", "use -o FILE or redirect standard output");
  }
  return writePack(directory, preparePack(directory), 1);
}

/** Writes next to the destination and renames, so a failed pack leaves no partial bundle. */
function packToFile({ preparePack, writePack }: Packer, directory: string, output: string): PackResult {
  const names = preparePack(directory);
  const temporary = path.join(path.dirname(output), `.${path.basename(output)}.${process.pid}.tmp`);
  let fd = attempt("create", temporary, () => fs.openSync(temporary, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600));
  try {
    const result = writePack(directory, names, fd);
    fs.closeSync(fd);
    fd = -1;
    fs.renameSync(temporary, output);
    return result;
  } catch (error) {
    if (fd >= 0) fs.closeSync(fd);
    fs.rmSync(temporary, { force: true });
    throw fromSystemError(error, "write", output);
  }
}
