// A hint that is a shell command runs as printed: every path and value in it is one shell
// word, whatever the name holds (a space, a quote, a `$`, a `;`). One helper quotes them all
// (agent/shell-word.ts); the symlinked bundle's `rm`, followed through sh, removes exactly the
// two files the warning names; and no hint in agent/ builds rm, mv, rmdir, chown or chmod
// from an unquoted interpolation.

import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { shellWord, shellWords } from "../agent/shell-word.ts";
import { runAgent } from "./helpers/agent-binary.ts";
import { makeHost, writeSampleBundle } from "./helpers/host.ts";
import { sourceFiles } from "./helpers/source-shape.ts";
import { tempDir } from "./helpers/tree.ts";

const isRoot = process.getuid?.() === 0;
const rootTest = isRoot ? test : test.skip;
const QUIET = { env: { TYPHOON_AGENT_JOURNAL: "stderr" } };
const REPO = path.resolve(import.meta.dir, "..");

/** Names an operator may have: each awkward character alone and together. */
const AWKWARD_NAMES = ["my bundle", "it's", 'say "hi"', "$HOME", "$(touch PWNED)", "a;b", "`id`", "tab\there", "-rf", "back\\slash", "*", "a'b\"c $d"];

/** The words sh makes of `command`, as the program it runs receives them. */
function wordsOf(command: string): string[] {
  const out = execFileSync("sh", ["-c", `printf '%s\\0' ${command}`], { cwd: tempDir("typhoon-shell-cwd-") });
  return out.toString("utf8").split("\0").slice(0, -1);
}

describe("shellWord", () => {
  for (const name of [...AWKWARD_NAMES, "/plain/path-1.2_x", "x=y,z"]) {
    test(`${JSON.stringify(name)} is one word, unchanged, through sh`, () => {
      expect(wordsOf(shellWord(name))).toEqual([name]);
      expect(wordsOf(shellWords(name, `/dir/${name}`))).toEqual([name, `/dir/${name}`]);
    });
  }
});

describe("the symlinked bundle's rm, run as printed", () => {
  let bundle: string;
  beforeAll(async () => {
    if (!isRoot) return;
    bundle = path.join(tempDir("typhoon-shell-bundle-"), "assets");
    await writeSampleBundle(bundle);
  }, 30_000);

  for (const name of AWKWARD_NAMES.filter((candidate) => !candidate.includes("/"))) {
    rootTest(`a bundle and a link named ${JSON.stringify(name)}: both removed, nothing else`, async () => {
      const root = makeHost();
      const directory = `${root}/srv/${name} dir`;
      fs.mkdirSync(directory, { recursive: true });
      const target = `${directory}/${name}`;
      fs.copyFileSync(bundle, target);
      const link = `${directory}/link ${name}`;
      fs.symlinkSync(target, link);
      const apply = await runAgent(["apply", link, "--root", root, "--no-start"], QUIET);
      expect(apply.exitCode, String(apply.stderr)).toBe(0);
      const result = JSON.parse(fs.readFileSync(`${root}/var/lib/typhoon-agent/result.json`, "utf8")) as { warnings: string[] };
      const warning = result.warnings.find((line) => line.includes("symbolic link"))!;
      const rm = /remove them by hand \((rm -- .*)\)$/.exec(warning)?.[1];
      expect(rm, warning).toBe(`rm -- ${shellWord(target)} ${shellWord(link)}`);
      const cwd = tempDir("typhoon-shell-cwd-");
      fs.writeFileSync(`${cwd}/bundle`, "bystander");
      execFileSync("sh", ["-c", rm!], { cwd });
      expect(fs.readdirSync(directory)).toEqual([]);
      expect(fs.readdirSync(cwd)).toEqual(["bundle"]);
    });
  }
});

test("no hint in agent/ builds a file command from an unquoted interpolation", () => {
  const unquoted = /\b(rm|mv|rmdir|chown|chmod)\b[^`\n]*?\$\{(?!shellWords?\(|step\.(?:uid|gid)\}|formatMode\()/;
  const found = // A unit's ExecStart names the agent's own fixed paths: no hint, nothing to quote.
  sourceFiles(path.join(REPO, "agent"), REPO).filter((file) => !file.startsWith("agent/units/")).flatMap((file) =>
    fs.readFileSync(path.join(REPO, file), "utf8").split("\n").flatMap((line, index) => {
      const template = line.match(/`[^`]*`/g) ?? [];
      return template.some((text) => unquoted.test(text)) ? [`${file}:${index + 1}: ${line.trim()}`] : [];
    }),
  );
  expect(found).toEqual([]);
});
