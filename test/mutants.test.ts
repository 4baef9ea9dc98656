// The mutant list of `npm run mutate` kept current with the code: every mutant still plants
// exactly once into the tree as it is, so a change that moves an anchor fails here, in
// `npm test`, rather than silently shrinking the mutation score. Checked in memory: the tree
// is never written.

import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, test } from "vitest";
import { MUTANTS, occurrences, plant } from "../scripts/mutants.ts";

const REPO = path.resolve(import.meta.dir, "..");

describe("the mutants of npm run mutate", () => {
  test("at least 40, with unique names, each changing an agent file", () => {
    expect(MUTANTS.length).toBeGreaterThanOrEqual(40);
    expect(new Set(MUTANTS.map((mutant) => mutant.name)).size).toBe(MUTANTS.length);
    for (const mutant of MUTANTS) {
      expect(mutant.file, mutant.name).toMatch(/^agent\/.+\.ts$/);
      expect(mutant.to, mutant.name).not.toBe(mutant.from);
      expect(mutant.tests.length, mutant.name).toBeGreaterThan(0);
    }
  });

  test("each names test files that exist", () => {
    for (const mutant of MUTANTS) {
      for (const file of mutant.tests) expect(fs.existsSync(path.join(REPO, file)), `${mutant.name}: ${file}`).toBe(true);
    }
  });

  for (const mutant of MUTANTS) {
    test(`${mutant.name} plants exactly once in ${mutant.file}`, () => {
      const text = fs.readFileSync(path.join(REPO, mutant.file), "utf8");
      expect(occurrences(text, mutant.from)).toBe(1);
      expect(plant(text, mutant)).not.toBe(text);
    });
  }

  test("the README's last run counts every mutant: its score and its table by area add up to the list", () => {
    const readme = fs.readFileSync(path.join(REPO, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("### How the promises are pinned"));
    const score = /`mutation score: (\d+)\/(\d+) killed`/.exec(section);
    expect(score, "the README states the score").not.toBeNull();
    expect(Number(score![2])).toBe(MUTANTS.length);
    const rows = [...section.slice(0, section.indexOf("`mutation score")).matchAll(/^\| .+? \| (\d+) \| (\d+) \| .+ \|$/gm)];
    expect(rows.reduce((sum, row) => sum + Number(row[1]), 0)).toBe(MUTANTS.length);
    expect(rows.reduce((sum, row) => sum + Number(row[2]), 0)).toBe(Number(score![1]));
  });

  test("an anchor that is gone, or found twice, is an error, not a skip", () => {
    const mutant = { ...MUTANTS[0]!, from: "abc" };
    expect(() => plant("no anchor here", mutant)).toThrow(/occurs 0 times/);
    expect(() => plant("abc abc", mutant)).toThrow(/occurs 2 times/);
    expect(plant("x abc y", { ...mutant, to: "$&$1" })).toBe("x $&$1 y");
  });
});
