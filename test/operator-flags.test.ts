// Empty and missing flag values, generated from what every command's --help lists: each flag
// that takes a value, written with an empty value in every way a shell lets one through
// (`--flag ""`, `--flag=`, an unset variable, blanks, the flag as the last word, an empty
// repeat), must be a usage error (exit 2) naming the flag, before anything is read or
// written. `--root` itself is tried on the live root, in an overlay: operator.test.ts.

import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, test } from "vitest";
import { runAgent, type AgentResult } from "./helpers/agent-binary.ts";
import { makeHost, writeSampleBundle } from "./helpers/host.ts";
import { expectCleanFailure } from "./helpers/operator.ts";
import { snapshotTree, tempDir } from "./helpers/tree.ts";

const isRoot = process.getuid?.() === 0;
const rootTest = isRoot ? test : test.skip;
const QUIET = { TYPHOON_AGENT_JOURNAL: "stderr" };

/** Every command, with arguments that make it run against scratch paths only. */
function commands(root: string, bundle: string, scratch: string): Array<{ name: string; args: string[] }> {
  return [
    { name: "apply", args: ["apply", bundle, "--root", root] },
    { name: "plan", args: ["plan", bundle, "--root", root] },
    { name: "rollback", args: ["rollback", "--root", root] },
    { name: "verify", args: ["verify", "--root", root] },
    { name: "render", args: ["render", "kubelet", "--root", root] },
    { name: "unpack", args: ["unpack", bundle, "-C", path.join(scratch, "unpacked")] },
    { name: "pack", args: ["pack", path.join(root, "etc"), "-o", path.join(scratch, "packed")] },
  ];
}

/** The flags of `command` that take a value, as its --help lists them (anything not [boolean]). */
async function valueFlags(command: string): Promise<string[]> {
  const help = String((await runAgent([command, "--help"])).stdout).split("\nExamples:")[0]!;
  const chunks = help.split(/\n(?=\s+(?:-\w, )?--[\w-]+\s)/).slice(1);
  return chunks
    .map((chunk) => ({ flag: /--([\w-]+)/.exec(chunk)![1]!, text: chunk.split(/\n\S/)[0]! }))
    .filter(({ flag, text }) => !text.includes("[boolean]") && !["help", "version"].includes(flag))
    .map(({ flag }) => flag);
}

/** Every way an empty value reaches the agent through a shell: each is one argument list to append. */
const EMPTY_FORMS: ReadonlyArray<{ form: string; args: (flag: string) => string[] }> = [
  { form: '--flag ""', args: (flag) => [`--${flag}`, ""] },
  { form: "--flag=", args: (flag) => [`--${flag}=`] },
  { form: '--flag "  "', args: (flag) => [`--${flag}`, "  "] },
  { form: "--flag (last word)", args: (flag) => [`--${flag}`] },
  { form: "--flag x --flag=", args: (flag) => [`--${flag}`, "x", `--${flag}=`] },
];

describe("an empty value for any flag is a usage error", () => {
  rootTest("every command, every flag that takes a value, every empty form: exit 2 naming it, nothing written", async () => {
    const root = makeHost();
    const bundle = path.join(root, "home/core/assets");
    await writeSampleBundle(bundle);
    const scratch = tempDir("typhoon-flags-");
    const cwd = tempDir("typhoon-flags-cwd-");
    const before = snapshotTree(root);
    const runs: Array<{ label: string; flag: string; args: string[] }> = [];
    for (const { name, args } of commands(root, bundle, scratch)) {
      const flags = await valueFlags(name);
      expect(flags.length, `${name} --help lists no flag that takes a value`).toBeGreaterThan(0);
      for (const flag of flags.filter((candidate) => candidate !== "root")) {
        for (const { form, args: empty } of EMPTY_FORMS) runs.push({ label: `${name} ${form.replaceAll("flag", flag)}`, flag, args: [...args, ...empty(flag)] });
      }
    }
    // Positionals named with an empty value (an unset "$BUNDLE").
    for (const args of [["apply", "", "--root", root], ["plan", "", "--root", root], ["unpack", "", "-C", scratch], ["pack", ""]]) {
      runs.push({ label: `${args[0]} "" (positional)`, flag: "<", args });
    }
    const results = await inBatches(runs, 4, (run) => runAgent(run.args, { env: QUIET, cwd }));
    const wrong = runs.flatMap((run, index) => {
      const result = results[index]!;
      expectCleanFailure(result, run.label);
      const named = String(result.stderr).includes(run.flag === "<" ? "<" : `-${run.flag.length === 1 ? "" : "-"}`);
      return result.exitCode === 2 && named ? [] : [`${run.label}: exit ${result.exitCode} ${String(result.stderr).trim().split("\n").at(-1)}`];
    });
    expect(wrong).toEqual([]);
    console.log(`empty flag values: ${runs.length} runs over ${new Set(runs.map((run) => run.label.split(" ")[0])).size} commands`);
    expect(snapshotTree(root)).toEqual(before);
    expect(fs.readdirSync(scratch)).toEqual([]);
    expect(fs.readdirSync(cwd)).toEqual([]);
  }, 120_000);
});

async function inBatches<T>(items: readonly T[], width: number, run: (item: T) => Promise<AgentResult>): Promise<AgentResult[]> {
  const results: AgentResult[] = [];
  for (let at = 0; at < items.length; at += width) results.push(...(await Promise.all(items.slice(at, at + width).map(run))));
  return results;
}

/**
 * The number flags: every flag some command's --help shows with a number for its default.
 * Each takes plain decimal digits (seconds may have a decimal fraction) within the range its
 * --help states; anything a looser parser would read as a number is refused.
 */
async function numberFlags(): Promise<Array<{ command: string; flag: string; max: number; fraction: boolean }>> {
  const found: Array<{ command: string; flag: string; max: number; fraction: boolean }> = [];
  for (const command of ["apply", "plan", "rollback", "verify", "render", "unpack", "pack"]) {
    const help = String((await runAgent([command, "--help"])).stdout).split("\nExamples:")[0]!;
    for (const chunk of help.split(/\n(?=\s+(?:-\w, )?--[\w-]+\s)/).slice(1)) {
      if (!/\[default: \d+\]/.test(chunk)) continue;
      const range = /\((\d+) to (\d+)( seconds| days)?\)/.exec(chunk.replace(/\s+/g, " "));
      expect(range, `${command} --help: ${chunk} states no range`).not.toBeNull();
      found.push({ command, flag: /--([\w-]+)/.exec(chunk)![1]!, max: Number(range![2]), fraction: range![3] === " seconds" });
    }
  }
  return found;
}

const BAD_NUMBERS = (max: number, fraction: boolean): string[] => [
  "0x10", "0o7", "0b1", "1e3", "1E3", "+3", "-1", "-0", " 3", "3 ", "\t3", "3\n", "1_000", "Infinity", "NaN", "3s", "٣",
  String(max + 1), "99999999999999999999", ".5", "5.", "3,5", ...(fraction ? [] : ["3.5", "3.0"]),
];

describe("number flags take plain decimal numbers in their stated range", () => {
  rootTest("every number flag, every malformed or out-of-range value: exit 2 naming flag and value, nothing written", async () => {
    const root = makeHost();
    const bundle = path.join(root, "home/core/assets");
    await writeSampleBundle(bundle);
    const flags = await numberFlags();
    expect(flags.map(({ command, flag }) => `${command} --${flag}`).sort()).toEqual(["apply --lock-wait", "rollback --lock-wait", "verify --warn-days"]);
    const before = snapshotTree(root);
    const runs = flags.flatMap(({ command, flag, max, fraction }) => {
      const base = command === "apply" ? ["apply", bundle, "--root", root] : [command, "--root", root];
      return BAD_NUMBERS(max, fraction).map((value) => ({ label: `${command} --${flag} ${JSON.stringify(value)}`, flag, value, args: [...base, `--${flag}`, value] }));
    });
    const results = await inBatches(runs, 4, (run) => runAgent(run.args, { env: QUIET }));
    const wrong = runs.flatMap((run, index) => {
      const result = results[index]!;
      expectCleanFailure(result, run.label);
      const stderr = String(result.stderr);
      const named = stderr.includes(`--${run.flag} takes`) && stderr.includes(JSON.stringify(run.value));
      return result.exitCode === 2 && named ? [] : [`${run.label}: exit ${result.exitCode} ${stderr.trim().split("\n")[0]}`];
    });
    expect(wrong).toEqual([]);
    expect(snapshotTree(root)).toEqual(before);
  }, 120_000);

  rootTest("the edges of each range are taken", async () => {
    const root = makeHost();
    for (const { command, flag, max, fraction } of await numberFlags()) {
      if (command === "apply") continue; // apply's --lock-wait is rollback's: one coerce, proven there without installing
      for (const value of ["0", String(max), "007", ...(fraction ? ["0.5"] : [])]) {
        const result = await runAgent([command, "--root", root, `--${flag}`, value], { env: QUIET });
        // rollback with nothing to roll back and verify with nothing installed: the flag was taken.
        expect(result.exitCode, `${command} --${flag} ${value}: ${String(result.stderr)}`).toBe(66);
      }
    }
  });
});
