// Differential: `unpack --awk` must write exactly the tree the upstream one-liner writes
// with the real gawk and mawk.

import * as fs from "node:fs";
import * as path from "node:path";
import { execa } from "execa";
import { expect, test } from "vitest";
import { terraformBundle } from "../scripts/make-bundle.ts";
import { runAgent } from "./helpers/agent-binary.ts";
import { randomAssetMap } from "./helpers/random-bundle.ts";
import { runSeed, seededRandom } from "./helpers/random.ts";
import { readFiles, tempDir } from "./helpers/tree.ts";

const ONE_LINER = "/#####/ {filename=$2; next} {print > filename}";
const AWKS = ["gawk", "mawk"] as const;
const seed = runSeed();
console.log(`unpack-awk seed ${seed} (replay with TEST_SEED=${seed})`);

/** awk needs the directories to exist; the upstream script made them with mkdir -p. */
async function runAwk(awk: string, bundlePath: string, names: Iterable<string>, directory: string): Promise<void> {
  for (const name of names) fs.mkdirSync(path.dirname(path.join(directory, name)), { recursive: true });
  await execa(awk, [ONE_LINER, bundlePath], { cwd: directory, env: { LC_ALL: "C" } });
}

test("--awk writes the tree gawk and mawk write, for 150 random bundles", async () => {
  const random = seededRandom(seed);
  for (let i = 0; i < 150; i++) {
    const assets = randomAssetMap(random, { binary: true });
    const work = tempDir();
    const bundlePath = path.join(work, "assets");
    fs.writeFileSync(bundlePath, terraformBundle(assets));
    const agent = await runAgent(["unpack", bundlePath, "-C", path.join(work, "agent"), "--awk"]);
    expect(agent.exitCode, agent.stderr as string).toBe(0);
    const ours = readFiles(path.join(work, "agent"));
    for (const awk of AWKS) {
      await runAwk(awk, bundlePath, assets.keys(), path.join(work, awk));
      expect(ours, `${awk}, bundle ${i} of seed ${seed}`).toEqual(readFiles(path.join(work, awk)));
    }
    fs.rmSync(work, { recursive: true });
  }
}, 120_000);

test("--awk on the sample bundle matches both awks", async () => {
  const { makeSampleAssets } = await import("../scripts/make-bundle.ts");
  const assets = await makeSampleAssets({ networking: "flannel" });
  const work = tempDir();
  const bundlePath = path.join(work, "assets");
  fs.writeFileSync(bundlePath, terraformBundle(assets));
  expect((await runAgent(["unpack", bundlePath, "-C", path.join(work, "agent"), "--awk"])).exitCode).toBe(0);
  const ours = readFiles(path.join(work, "agent"));
  expect(ours.size).toBe(assets.size);
  for (const awk of AWKS) {
    await runAwk(awk, bundlePath, assets.keys(), path.join(work, awk));
    expect(ours).toEqual(readFiles(path.join(work, awk)));
  }
  fs.rmSync(work, { recursive: true });
});
