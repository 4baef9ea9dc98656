// Scratch host trees (--root) and sample bundles for tests.

import { execSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { makeSampleAssets, terraformBundle, type SampleOptions } from "../../scripts/make-bundle.ts";
import { makeClusterPki } from "../../scripts/pki.ts";
import { makeHostTree } from "../../scripts/sample-host.ts";
import { runAgent } from "./agent-binary.ts";
import { tempDir } from "./tree.ts";

export { ETCD_UID, NOBODY_UID, type HostOptions } from "../../scripts/sample-host.ts";

/** A scratch host in a new temporary directory. */
export function makeHost(options: Parameters<typeof makeHostTree>[1] = {}): string {
  return makeHostTree(tempDir("typhoon-root-"), options);
}

let sharedPki: Promise<Map<string, string>> | undefined;

/** The sample controller bundle; PKI is generated once per test file (it takes ~0.5 s). */
export async function sampleAssets(options: Omit<SampleOptions, "pki"> & { freshPki?: boolean } = {}): Promise<Map<string, string>> {
  const { freshPki, ...rest } = options;
  const pki = freshPki ? await makeClusterPki() : await (sharedPki ??= makeClusterPki());
  return makeSampleAssets({ ...rest, pki });
}

export async function writeSampleBundle(file: string, options: Parameters<typeof sampleAssets>[0] = {}): Promise<Map<string, string>> {
  const assets = await sampleAssets(options);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, terraformBundle(assets), { mode: 0o600 });
  return assets;
}

/** A controller with the sample bundle applied (kubelet not started): the tree verify's tests copy and damage. */
export async function installedController(): Promise<string> {
  const root = makeHost();
  await writeSampleBundle(`${root}/home/core/assets`);
  const apply = await runAgent(["apply", `${root}/home/core/assets`, "--root", root, "--no-start"], { env: { TYPHOON_AGENT_JOURNAL: "stderr" } });
  if (apply.exitCode !== 0) throw new Error(`apply failed: ${apply.stderr}`);
  return root;
}

/** A copy of `tree` in a new temporary directory, owners and modes kept, to plant one fault in. */
export function copyOfTree(tree: string, prefix: string): string {
  const root = path.join(tempDir(prefix), "root");
  execSync(`cp -a ${tree} ${root}`);
  return root;
}
