// The executable's entry point. `typhoon-agent --version` alone is answered here, before the
// command line interface (yargs and every command's options) is loaded: it needs nothing
// else, and scripts and package checks run it to learn what is installed. Every other
// command line, `--version` among other arguments included, is yargs' to parse.

import { VERSION } from "./version.ts";

const args = process.argv.slice(2);
if (args.length === 1 && args[0] === "--version") {
  console.log(VERSION);
} else {
  const { main } = await import("./cli.ts");
  process.exitCode = await main(args);
}
