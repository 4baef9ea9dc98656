// "The newest five are kept; rollback uses them": six applies, each changing the tree (the
// second creates a file in a directory that was there, the others replace it), leave exactly
// the backups of the last five, and five rollbacks walk them newest first, each undoing one
// apply and consuming its backup (the last removes the file the second apply created), until
// there is none (exit 66).

import * as fs from "node:fs";
import { beforeAll, describe, expect, test } from "vitest";
import { terraformBundle } from "../scripts/make-bundle.ts";
import { runAgent } from "./helpers/agent-binary.ts";
import { makeHost, sampleAssets } from "./helpers/host.ts";

const isRoot = process.getuid?.() === 0;
if (!isRoot) console.log("backup tests skipped: apply chowns files to other users and needs root");
const rootTest = isRoot ? test : test.skip;
const QUIET = { env: { TYPHOON_AGENT_JOURNAL: "stderr" } };
const APPLIES = 6;
const KEPT = 5;
const CHANGING = "/opt/bootstrap/assets/manifests/generation.yaml";
const BACKUPS = "/var/lib/typhoon-agent/backups";

/** What apply `number` installs as CHANGING: nothing in the first, a new version in each after it. */
const generation = (number: number): string | undefined => (number === 1 ? undefined : `# apply ${number}\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: generation-${number}\n`);
const bundleOf = (number: number): Map<string, string> => {
  const content = generation(number);
  return content === undefined ? assets : new Map(assets).set("manifests/generation.yaml", content);
};
const installed = (root: string): string | undefined => (fs.existsSync(`${root}${CHANGING}`) ? fs.readFileSync(`${root}${CHANGING}`, "utf8") : undefined);

let assets: Map<string, string>;
beforeAll(async () => {
  if (isRoot) assets = await sampleAssets();
});

const listBackups = (root: string): string[] => fs.readdirSync(`${root}${BACKUPS}`).filter((name) => name.endsWith(".tar")).sort().map((name) => `${BACKUPS}/${name}`);

describe("backups", () => {
  rootTest(`${APPLIES} changing applies keep exactly the newest ${KEPT} backups; rollback walks them newest first`, async () => {
    const root = makeHost();
    const made: string[] = [];
    for (let number = 1; number <= APPLIES; number++) {
      fs.writeFileSync(`${root}/home/core/assets`, terraformBundle(bundleOf(number)));
      const run = await runAgent(["apply", `${root}/home/core/assets`, "--root", root, "--no-start", "--json"], QUIET);
      expect(run.exitCode, run.stderr as string).toBe(0);
      const result = JSON.parse(run.stdout as string) as { outcome: string; backup?: string };
      expect(result.outcome).toBe("applied");
      made.push(result.backup!);
      expect(listBackups(root), `after apply ${number}`).toEqual(made.slice(-KEPT));
    }

    for (let undone = 1; undone <= KEPT; undone++) {
      const run = await runAgent(["rollback", "--root", root, "--no-start", "--json"], QUIET);
      expect(run.exitCode, run.stderr as string).toBe(0);
      const undoing = APPLIES - undone + 1; // the apply this rollback undoes
      expect((JSON.parse(run.stdout as string) as { backup: string }).backup, `rollback ${undone} uses the backup of apply ${undoing}`).toBe(made[undoing - 1]!);
      expect(installed(root), `rollback ${undone} restores what apply ${undoing - 1} installed`).toBe(generation(undoing - 1));
      expect(listBackups(root)).toEqual(made.slice(APPLIES - KEPT, undoing - 1));
    }
    const none = await runAgent(["rollback", "--root", root, "--no-start"], QUIET);
    expect(none.exitCode).toBe(66);
    expect(none.stderr).toContain(`no backup to roll back to under ${BACKUPS}`);
  }, 60_000);
});
