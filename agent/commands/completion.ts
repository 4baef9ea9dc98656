// `typhoon-agent completion`: yargs writes the script, bash's, or zsh's or fish's when $SHELL
// names one, and prints it whenever the word "completion" is among the arguments, before any
// check. What yargs would print it for anyway, an argument after it, is refused here first;
// an operator of another shell is told the script is bash's.

import { UsageError } from "../errors.ts";
import { say } from "../report/console.ts";

const INSTALL = "typhoon-agent completion > /etc/bash_completion.d/typhoon-agent";

/** The shells yargs writes a script for, found in $SHELL as yargs finds them (a substring); any other gets bash's. */
const SHELLS_WITH_A_SCRIPT = ["bash", "zsh", "fish"];

export const COMPLETION_DESCRIPTION = `Print bash's completion script, or zsh's or fish's when $SHELL names one: ${INSTALL}`;

/** Before yargs parses `argv`: refuses `completion` with arguments, warns when $SHELL has no script of its own. */
export function checkCompletion(argv: readonly string[], shell: string): void {
  // -v is global; --help yargs answers (with the script itself, which is completion's help).
  const words = argv.filter((word) => !["-v", "--verbose", "-h", "--help"].includes(word));
  if (words[0] !== "completion") return;
  const extra = words.slice(1);
  if (extra.length > 0) {
    throw new UsageError(`completion takes no arguments, and was given ${extra.join(" ")}`, `${INSTALL} (bash's script; zsh's or fish's when $SHELL names one)`);
  }
  if (!SHELLS_WITH_A_SCRIPT.some((name) => shell.includes(name))) {
    say(`warning: completion scripts exist for ${SHELLS_WITH_A_SCRIPT.join(", ")}; ${shell === "" ? "$SHELL is not set" : `$SHELL is ${shell}`}: this is bash's`);
  }
}
