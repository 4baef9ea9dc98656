// What the repository may hold: no private key (test PKI is generated at test time, and a
// test that writes into the working tree must not get its output committed), and no path of
// the machine it was written on.

import * as path from "node:path";
import { execa } from "execa";
import { describe, expect, test } from "vitest";
import { REPO } from "./helpers/agent-binary.ts";

/** Spelled in two pieces, so this file does not match itself. */
const PRIVATE_KEY = ["-----BEGIN ([A-Z]+ )?PRIVATE", " KEY-----"].join("");

async function committedFilesMatching(pattern: string, fixed: boolean): Promise<string[]> {
  const run = await execa("git", ["grep", "-l", fixed ? "-F" : "-E", "-e", pattern], { cwd: REPO, reject: false });
  // git grep exits 1 when nothing matches.
  if (run.exitCode !== 0 && run.exitCode !== 1) throw new Error(run.stderr);
  return run.stdout.split("\n").filter((line) => line !== "");
}

describe("the repository", () => {
  test("holds no private key", async () => {
    expect(await committedFilesMatching(PRIVATE_KEY, false)).toEqual([]);
  });

  test("names no directory of the machine it was built on", async () => {
    expect(await committedFilesMatching(`${path.dirname(REPO)}/`, true)).toEqual([]);
  });
});
