import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, test } from "vitest";
import { terraformBundle } from "../scripts/make-bundle.ts";
import { runAgent } from "./helpers/agent-binary.ts";
import { expectSameBytes } from "./helpers/bytes.ts";
import { decode } from "./helpers/decode.ts";
import { randomAssetMap } from "./helpers/random-bundle.ts";
import { runSeed, seededRandom } from "./helpers/random.ts";
import { readFiles, tempDir } from "./helpers/tree.ts";

const seed = runSeed();
console.log(`unpack-roundtrip seed ${seed} (replay with TEST_SEED=${seed})`);

function writeTree(root: string, assets: Map<string, Buffer>): void {
  for (const [name, bytes] of assets) {
    fs.mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    fs.writeFileSync(path.join(root, name), bytes);
  }
}

describe("property: the codec round-trips", () => {
  test("unpack(pack(m)) == m for random maps (in-process, every read size)", () => {
    const random = seededRandom(seed);
    for (let i = 0; i < 400; i++) {
      const assets = randomAssetMap(random, { binary: true });
      const bundle = terraformBundle(assets);
      const chunkSize = random.pick([1, 3, 17, 4096, 1 << 20]);
      expect(decode(bundle, { chunkSize }).assets).toEqual(assets);
    }
  });

  test("unpack accepts any order and pack restores Terraform's order", () => {
    const random = seededRandom(seed + 1);
    for (let i = 0; i < 200; i++) {
      const assets = randomAssetMap(random);
      const shuffled = [...assets].sort(() => random.next() - 0.5);
      const unsorted = Buffer.concat(
        shuffled.map(([name, bytes], index) => Buffer.concat([Buffer.from(`${index === 0 ? "" : "\n"}##### ${name}\n`), bytes])),
      );
      expect(decode(unsorted).assets).toEqual(assets);
    }
  });

  test("compiled binary: pack(tree) is Terraform's bundle and unpack(bundle) is the tree", async () => {
    const random = seededRandom(seed + 2);
    for (let i = 0; i < 25; i++) {
      const assets = randomAssetMap(random, { binary: true });
      const work = tempDir();
      const source = path.join(work, "source");
      writeTree(source, assets);
      const bundlePath = path.join(work, "bundle");
      const packed = await runAgent(["pack", source, "-o", bundlePath]);
      expect(packed.exitCode, packed.stderr as string).toBe(0);
      expectSameBytes(fs.readFileSync(bundlePath), terraformBundle(assets), "packed bundle");
      expect(fs.statSync(bundlePath).mode & 0o777).toBe(0o600);

      const unpacked = await runAgent(["unpack", bundlePath, "-C", path.join(work, "out")]);
      expect(unpacked.exitCode, unpacked.stderr as string).toBe(0);
      expect(readFiles(path.join(work, "out"))).toEqual(assets);
      fs.rmSync(work, { recursive: true });
    }
  });

  test("compiled binary: the sample bundle round-trips byte for byte through stdin and stdout", async () => {
    const work = tempDir();
    const { makeSampleAssets } = await import("../scripts/make-bundle.ts");
    const bundle = terraformBundle(await makeSampleAssets());
    const unpacked = await runAgent(["unpack", "-", "-C", path.join(work, "tree")], { input: bundle });
    expect(unpacked.exitCode, unpacked.stderr as string).toBe(0);
    expect(unpacked.stdout).toContain("unpacked 44 assets");
    const packed = await runAgent(["pack", path.join(work, "tree")], { encoding: "buffer" });
    expect(packed.exitCode).toBe(0);
    expectSameBytes(packed.stdout as unknown as Uint8Array, bundle, "packed bundle");
    fs.rmSync(work, { recursive: true });
  });

  test("pack refuses a tree holding a name no bundle could carry, naming it, writing nothing", async () => {
    for (const [name, problem] of [
      [Buffer.from([0x61, 0xff]), "asset name is not valid UTF-8"],
      [Buffer.from(".typhoon-agent-unpack.7"), "which the agent reserves for its temporary files"],
      [Buffer.from("two words"), "asset name has more than one field"],
    ] as const) {
      const work = tempDir();
      fs.mkdirSync(path.join(work, "tree"));
      fs.writeFileSync(Buffer.concat([Buffer.from(`${work}/tree/`), name]), "x\n");
      const packed = await runAgent(["pack", path.join(work, "tree"), "-o", path.join(work, "bundle")]);
      expect({ name: name.toString(), exitCode: packed.exitCode }).toEqual({ name: name.toString(), exitCode: 65 });
      expect(packed.stderr).toContain(problem);
      expect(packed.stderr).toContain("hint: asset names are relative paths");
      expect(fs.existsSync(path.join(work, "bundle"))).toBe(false);
    }
  });
});
