import type { Argv, CommandModule } from "yargs";
import { exitCodeHelp } from "../errors.ts";
import { pathValue } from "./option-checks.ts";
import { sayDone } from "../report/console.ts";
import { counted, formatBytes } from "../report/format.ts";

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
      .positional("bundle", { type: "string", demandOption: true, coerce: pathValue("<bundle>", "the bundle's path, or - for standard input", { stdin: true }), describe: "bundle file, or - for standard input" })
      .option("directory", {
        alias: "C",
        type: "string",
        requiresArg: true,
        demandOption: true,
        coerce: pathValue("directory", "a directory"),
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
    const [{ openBundleInput }, { unpackToDirectory }, { catchSignals }] = await Promise.all([
      import("../unpack/input.ts"),
      import("../unpack/unpack-to-directory.ts"),
      import("../transaction/guard.ts"),
    ]);
    // A signal stops the unpack between the bundle's buffers: the staging directory and a
    // DIR it created are removed, DIR is as it was (exit 1).
    const signals = catchSignals();
    const input = openBundleInput(args.bundle);
    try {
      const result = await unpackToDirectory(input, args.directory, args.awk ? "awk" : "exact", { between: () => signals.checkpoint() });
      sayDone(`unpacked ${counted(result.assets, "asset")} (${formatBytes(result.bytes)}) into ${args.directory}${args.awk ? " (awk layout)" : ""}`);
    } finally {
      input.close();
      signals.release();
    }
  },
};
