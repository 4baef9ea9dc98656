// Shell completion as an operator installs it: `typhoon-agent completion` prints yargs'
// bash script (zsh's or fish's when $SHELL names one), and a real bash or fish that sourced
// it completes commands, flags and choices by asking the binary (on PATH as `typhoon-agent`,
// as on a node). Any other shell gets bash's with a warning; an argument is refused (exit 2).

import * as fs from "node:fs";
import * as path from "node:path";
import { execa } from "execa";
import { describe, expect, test } from "vitest";
import { AGENT, runAgent } from "./helpers/agent-binary.ts";
import { tempDir } from "./helpers/tree.ts";

/** A PATH directory holding the agent under its installed name. */
function agentOnPath(): string {
  const directory = tempDir();
  fs.symlinkSync(AGENT, path.join(directory, "typhoon-agent"));
  return directory;
}

/** What bash offers for `words` (the last one being completed), with the script sourced. */
async function complete(script: string, words: readonly string[]): Promise<string[]> {
  const directory = agentOnPath();
  fs.writeFileSync(path.join(directory, "completion.bash"), script);
  const program = `
    source "$1"; shift
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
    _typhoon-agent_yargs_completions
    printf '%s\\n' "\${COMPREPLY[@]}"`;
  const result = await execa("bash", ["-c", program, "bash", path.join(directory, "completion.bash"), ...words], {
    env: { PATH: `${directory}:${process.env.PATH}`, SHELL: "/bin/bash" },
    reject: false,
  });
  expect(result.exitCode, result.stderr).toBe(0);
  return result.stdout.split("\n").filter((line) => line !== "");
}

describe("typhoon-agent completion", () => {
  test("prints a bash completion script for typhoon-agent that bash accepts", async () => {
    const result = await runAgent(["completion"], { env: { SHELL: "/bin/bash" } });
    expect(result.exitCode, result.stderr as string).toBe(0);
    expect(result.stderr).toBe("");
    expect(result.stdout).toContain("complete -o bashdefault -o default -F _typhoon-agent_yargs_completions typhoon-agent\n");
    const syntax = await execa("bash", ["-n"], { input: result.stdout as string, reject: false });
    expect(syntax.exitCode, syntax.stderr).toBe(0);
  });

  test("zsh gets zsh's script, which zsh accepts", async () => {
    const result = await runAgent(["completion"], { env: { SHELL: "/usr/bin/zsh" } });
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toBe("");
    expect(String(result.stdout).split("\n")[0]).toBe("#compdef typhoon-agent");
    const syntax = await execa("zsh", ["-n"], { input: result.stdout as string, reject: false });
    expect(syntax.exitCode, syntax.stderr).toBe(0);
  });

  test("fish gets fish's script, and a real fish completes commands and flags with it", async () => {
    const result = await runAgent(["completion"], { env: { SHELL: "/usr/bin/fish" } });
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toBe("");
    const directory = agentOnPath();
    fs.writeFileSync(path.join(directory, "typhoon-agent.fish"), result.stdout as string);
    const program = `source ${path.join(directory, "typhoon-agent.fish")}; complete -C 'typhoon-agent ro'; complete -C 'typhoon-agent verify --warn'`;
    const fish = await execa("fish", ["--no-config", "-c", program], { env: { PATH: `${directory}:${process.env.PATH}`, SHELL: "/usr/bin/fish" }, reject: false });
    expect(fish.exitCode, fish.stderr).toBe(0);
    // fish shows each candidate with its description after a tab.
    expect(fish.stdout.split("\n").map((line) => line.split("\t")[0])).toEqual(["rollback", "--warn-days"]);
    expect(fish.stdout).toContain("rollback\tUndo the last apply");
  });

  // Any other shell: the README's install line writes bash's script to bash_completion.d
  // whatever the operator's own login shell, so it still gets it, and is told what it is.
  for (const shell of ["/bin/tcsh", "/bin/sh", ""]) {
    test(`SHELL=${JSON.stringify(shell)}: bash's script, and a warning naming the shells there are scripts for`, async () => {
      const result = await runAgent(["completion"], { env: { SHELL: shell } });
      expect(result.exitCode).toBe(0);
      expect(result.stdout).toContain("complete -o bashdefault -o default -F _typhoon-agent_yargs_completions typhoon-agent\n");
      expect(result.stderr).toBe(`typhoon-agent: warning: completion scripts exist for bash, zsh, fish; ${shell === "" ? "$SHELL is not set" : `$SHELL is ${shell}`}: this is bash's\n`);
    });
  }

  for (const extra of [["extra"], ["--foo"], ["bash"], ["-", "x"]]) {
    test(`completion ${extra.join(" ")}: exit 2, nothing on standard output`, async () => {
      const result = await runAgent(["completion", ...extra], { env: { SHELL: "/bin/bash" } });
      expect(result.exitCode).toBe(2);
      expect(result.stdout).toBe("");
      expect(result.stderr).toContain(`completion takes no arguments, and was given ${extra.join(" ")}`);
    });
  }

  test("the README names the shells exactly", () => {
    const readme = fs.readFileSync(path.join(import.meta.dir, "../README.md"), "utf8");
    expect(readme.replace(/\n/g, " ")).toContain("Prints bash's completion script, or zsh's or fish's when `$SHELL` names one");
    expect(readme.replace(/\n/g, " ")).toContain("completes commands, flags (as documented: `--no-start`, `-v`)");
  });

  test("is listed in --help", async () => {
    expect((await runAgent(["--help"])).stdout).toContain("typhoon-agent completion");
  });

  test("bash completes commands, a command's flags and render's targets", async () => {
    const script = (await runAgent(["completion"], { env: { SHELL: "/bin/bash" } })).stdout as string;
    expect(await complete(script, ["typhoon-agent", ""])).toEqual(["apply", "plan", "rollback", "verify", "unpack", "pack", "render", "completion"]);
    expect(await complete(script, ["typhoon-agent", "ro"])).toEqual(["rollback"]);
    expect(await complete(script, ["typhoon-agent", "apply", "--keep"])).toEqual(["--keep-bundle"]);
    expect(await complete(script, ["typhoon-agent", "verify", "--warn"])).toEqual(["--warn-days"]);
    expect(await complete(script, ["typhoon-agent", "render", "agent"])).toEqual(["agent-config"]);
  });

  // The flags as documented: --no-start (the default is to start), -v; never --start or --v.
  test("bash offers the documented --no-start and -v, never --start or --v", async () => {
    const script = (await runAgent(["completion"], { env: { SHELL: "/bin/bash" } })).stdout as string;
    for (const command of ["apply", "rollback"]) {
      expect(await complete(script, ["typhoon-agent", command, "--no-"]), command).toEqual(["--no-start"]);
      // What the script asks the binary for every flag (bash then keeps those that start with the word).
      const all = String((await runAgent(["--get-yargs-completions", "typhoon-agent", command, "--"])).stdout).split("\n");
      expect(all, command).toContain("-v");
      expect(all, command).not.toContain("--v");
      expect(all, command).not.toContain("--start");
    }
  });
});

test("a --no-FLAG the command lacks is named as typed: plan --no-start is unknown option --no-start", async () => {
  const result = await runAgent(["plan", "--no-start"]);
  expect(result.exitCode).toBe(2);
  expect(String(result.stderr)).toContain("typhoon-agent: unknown option --no-start");
});
