// `npm run demo`: make a sample bundle (fresh test PKI, the 44 assets Terraform renders
// today) and run the compiled agent on it, printing what it did.

import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { makeSampleAssets, terraformBundle } from "./make-bundle.ts";

const root = path.resolve(import.meta.dir, "..");
const agent = path.join(root, "dist/typhoon-agent");
const demo = path.join(root, "demo");

fs.rmSync(demo, { recursive: true, force: true });
fs.mkdirSync(demo, { mode: 0o700 });
const bundle = path.join(demo, "assets");
const assets = await makeSampleAssets();
fs.writeFileSync(bundle, terraformBundle(assets), { mode: 0o600 });
console.log(`sample bundle: ${path.relative(root, bundle)} (${assets.size} assets, fresh test PKI)\n`);

function run(args: string[]): void {
  console.log(`$ typhoon-agent ${args.join(" ")}`);
  const result = spawnSync(agent, args, { stdio: "inherit" });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

function printTree(directory: string): void {
  const walk = (relative: string): void => {
    for (const name of fs.readdirSync(path.join(directory, relative)).sort()) {
      const child = path.join(relative, name);
      const stat = fs.lstatSync(path.join(directory, child));
      const mode = (stat.mode & 0o7777).toString(8).padStart(4, "0");
      console.log(`  ${mode}  ${String(stat.isDirectory() ? "" : stat.size).padStart(6)}  ${child}${stat.isDirectory() ? "/" : ""}`);
      if (stat.isDirectory()) walk(child);
    }
  };
  walk("");
}

const unpacked = path.join(demo, "unpacked");
run(["unpack", path.relative(process.cwd(), bundle), "-C", path.relative(process.cwd(), unpacked)]);
console.log(`\n${path.relative(root, unpacked)}/  (mode, bytes, path)`);
printTree(unpacked);
