import type { Argv, CommandModule } from "yargs";
import { exitCodeHelp } from "../errors.ts";
import { say } from "../report/console.ts";
import { formatBytes } from "../report/format.ts";

interface UnpackArgs {
  bundle: string;
  directory: string;
  awk: boolean;
}

export const unpackCommand: CommandModule<object, UnpackArgs> = {
  command: "unpack <bundle>",
  describe: "Unpack a bundle into a directory, all or nothing",
  builder: (yargs) =>
    (yargs as Argv<object>)
      .positional("bundle", { type: "string", demandOption: true, describe: "bundle file, or - for standard input" })
      .option("directory", {
        alias: "C",
        type: "string",
        demandOption: true,
        describe: "directory to unpack into (created if missing; files are written 0600, directories 0700)",
      })
      .option("awk", {
        type: "boolean",
        default: false,
        describe: "write the tree byte-identical to the upstream awk one-liner (extra newline after every asset but the last)",
      })
      .example("$0 unpack assets -C /tmp/assets", "restore every asset byte for byte")
      .example("$0 unpack - -C old-layout --awk < assets", "what `awk '/#####/ {filename=$2; next} {print > filename}'` wrote")
      .epilogue(exitCodeHelp()) as Argv<UnpackArgs>,
  handler: async (args) => {
    // Loaded on use, like every command's modules: other commands do not pay for them at start-up.
    const [{ openBundleInput }, { unpackToDirectory }] = await Promise.all([import("../unpack/input.ts"), import("../unpack/unpack-to-directory.ts")]);
    const input = openBundleInput(args.bundle);
    try {
      const result = unpackToDirectory(input, args.directory, args.awk ? "awk" : "exact");
      say(`unpacked ${result.assets} assets (${formatBytes(result.bytes)}) into ${args.directory}${args.awk ? " (awk layout)" : ""}`);
    } finally {
      input.close();
    }
  },
};
