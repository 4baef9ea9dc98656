// The apply the fault suite and the syscall contract both watch: a controller installed from
// one sample bundle, then a bundle with a whole new PKI, plus legacy leftovers to migrate (one
// in each directory apply scans for them) and a directory mode to repair, so every kind of
// transaction step runs (write, remove, chmod).

import { execSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { execa } from "execa";
import { AGENT } from "./agent-binary.ts";
import { recorded } from "./canary.ts";
import { makeHost, writeSampleBundle } from "./host.ts";

export const QUIET_ENV = { TYPHOON_AGENT_JOURNAL: "stderr" };

export interface PkiReplacement {
  /** The installed controller (never changed: copy it). */
  installed: string;
  /** The bundle that installed it (kept by --keep-bundle). */
  oldBundle: string;
  /** The bundle with the new PKI. */
  bundle: string;
}

export function applyArgs(root: string, bundle: string): string[] {
  return ["apply", bundle, "--root", root, "--no-start", "--keep-bundle"];
}

export async function agentApply(root: string, bundle: string): Promise<void> {
  const run = recorded("apply", await execa(AGENT, applyArgs(root, bundle), { reject: false, env: QUIET_ENV }));
  if (run.exitCode !== 0) throw new Error(`apply failed: ${run.stderr}`);
}

/**
 * Builds the installed tree and the replacing bundle in `work`. The bundles are dated an hour
 * back: apply does not wait for a writer on a file nobody wrote for a minute, so no /proc scan
 * (whose length depends on the processes of this machine) changes the calls a run makes.
 */
export async function makePkiReplacement(work: string): Promise<PkiReplacement> {
  const installed = makeHost();
  const oldBundle = `${installed}/home/core/assets`;
  await writeSampleBundle(oldBundle);
  await agentApply(installed, oldBundle);
  fs.writeFileSync(`${installed}/etc/kubernetes/manifests/pod-checkpointer.yaml`, "kind: Pod\n", { mode: 0o600 });
  fs.writeFileSync(`${installed}/opt/bootstrap/bootkube-start`, "#!/bin/bash\n", { mode: 0o700 });
  fs.chmodSync(`${installed}/etc/ssl/etcd/etcd`, 0o755);
  const bundle = path.join(work, "new-pki");
  await writeSampleBundle(bundle, { freshPki: true });
  const anHourAgo = new Date(Date.now() - 3_600_000);
  for (const file of [oldBundle, bundle]) fs.utimesSync(file, anHourAgo, anHourAgo);
  return { installed, oldBundle, bundle };
}

/** `cp -a` of a tree, replacing whatever is at `to`; the run record of the copy is dropped. */
export function copyTree(from: string, to: string): string {
  fs.rmSync(to, { recursive: true, force: true });
  execSync(`cp -a ${from} ${to}`);
  // So that a result.json found after a run is that run's (a run stopped before apply writes none).
  fs.rmSync(path.join(to, "var/lib/typhoon-agent/result.json"), { force: true });
  return to;
}

export function hasCommand(command: string): boolean {
  try {
    execSync(`command -v ${command}`, { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
