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

type Completed = (error: Error | null, completions: string[] | undefined) => void;

/**
 * yargs offers a flag that is on by default as `--start` and the alias -v as `--v`; the
 * README documents `--no-start` and `-v`, so those are what completion offers. `onByDefault`
 * names the boolean flags of the command being completed whose default is true.
 */
export function asDocumented(onByDefault: () => readonly string[]) {
  // Four parameters: how yargs tells a filter of its own completions from a replacement.
  return (_current: string, _argv: unknown, yargsCompletions: (completed: Completed) => void, done: (completions: string[]) => void): void => {
    yargsCompletions((error, completions) => {
      const on = onByDefault();
      done(error === null ? (completions ?? []).map((completion) => documented(completion, on)) : []);
    });
  };
}

/** One completion, bash's `--flag` or zsh's `--flag:description`, as the README spells the flag. */
function documented(completion: string, onByDefault: readonly string[]): string {
  const [flag = "", ...description] = completion.split(":");
  const name = /^--(.+)$/.exec(flag)?.[1];
  if (name === undefined) return completion;
  const shown = name.length === 1 ? `-${name}` : onByDefault.includes(name) ? `--no-${name}` : flag;
  return [shown, ...description].join(":");
}
