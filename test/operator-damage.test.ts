// Damaged files in every place the agent reads, generated: each place (its configuration, the
// host's os-release and passwd files, its install and transaction records, its result, a
// backup, installed keys, kubeconfigs, static pods and units) damaged each way (cut short,
// emptied, random bytes, a directory, a FIFO, a symlink out of the root, a dangling symlink,
// JSON of the wrong shape), under every command that reads it. No run may end in a stack
// trace or an undocumented exit; and the damage that blocks a command says how to get past
// it: a damaged backup is named with the command that skips it, a damaged transaction record
// is set aside so the next apply succeeds.

import { execSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { runAgent } from "./helpers/agent-binary.ts";
import { makeHost, writeSampleBundle } from "./helpers/host.ts";
import { expectCleanFailure } from "./helpers/operator.ts";
import { managedTree, tempDir } from "./helpers/tree.ts";

const isRoot = process.getuid?.() === 0;
const rootTest = isRoot ? test : test.skip;
const QUIET = { env: { TYPHOON_AGENT_JOURNAL: "stderr" } };
const STATE = "var/lib/typhoon-agent";

/** Ways a file gets damaged: by a full disk, a crash, a hand edit, or something else standing in its place. */
const DAMAGES: Record<string, (file: string) => void> = {
  "cut short": (file) => fs.truncateSync(file, Math.floor(fs.statSync(file).size / 3)),
  emptied: (file) => fs.truncateSync(file, 0),
  "random bytes": (file) => fs.writeFileSync(file, Buffer.from(Array.from({ length: 3000 }, (_, index) => (index * 7919 + 13) % 256))),
  "JSON of the wrong shape": (file) => fs.writeFileSync(file, '{"version": 1, "files": {"a": 1}, "steps": "x", "kind": "Config", "users": 7}\n'),
  "a directory": (file) => replaceWith(file, () => fs.mkdirSync(file)),
  "a FIFO": (file) => replaceWith(file, () => execSync(`mkfifo ${file}`)),
  "a symlink out of the root": (file) => replaceWith(file, () => fs.symlinkSync("/etc/shadow", file)),
  "a dangling symlink": (file) => replaceWith(file, () => fs.symlinkSync("nowhere", file)),
};

function replaceWith(file: string, make: () => void): void {
  fs.rmSync(file, { recursive: true, force: true });
  make();
}

/** Every file the agent reads, relative to the root; BACKUP is the newest backup. */
const PLACES = [
  "etc/typhoon/agent.yaml",
  "etc/os-release",
  "etc/passwd",
  "etc/group",
  `${STATE}/installed.json`,
  `${STATE}/state.json`,
  `${STATE}/result.json`,
  "BACKUP",
  "etc/kubernetes/pki/apiserver.key",
  "etc/kubernetes/pki/admin.conf",
  "etc/ssl/etcd/etcd/server.crt",
  "etc/kubernetes/manifests/kube-apiserver.yaml",
  "etc/systemd/system/kubelet.service",
];

let installed: string;
let bundle: string;

/** A controller installed twice (so rollback has a backup to take and one before it), with an agent.yaml and a bundle kept. */
beforeAll(async () => {
  if (!isRoot) return;
  installed = makeHost();
  bundle = path.join(tempDir("typhoon-damage-bundle-"), "assets");
  await writeSampleBundle(bundle);
  fs.mkdirSync(`${installed}/etc/typhoon`);
  fs.writeFileSync(`${installed}/etc/typhoon/agent.yaml`, "runtime: podman\n");
  for (const extra of [[], ["--cluster-dns-service-ip", "10.3.0.53"]]) {
    const run = await runAgent(["apply", bundle, "--root", installed, "--keep-bundle", ...extra], QUIET);
    if (run.exitCode !== 0) throw new Error(String(run.stderr));
  }
}, 60_000);

function copyOfInstalled(): string {
  const root = tempDir("typhoon-damage-");
  execSync(`cp -a ${installed}/. ${root}/`);
  return root;
}

function newestBackup(root: string): string {
  return path.join(root, STATE, "backups", fs.readdirSync(path.join(root, STATE, "backups")).sort().at(-1)!);
}

function damage(root: string, place: string, how: string): string {
  const file = place === "BACKUP" ? newestBackup(root) : path.join(root, place);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  if (!fs.existsSync(file)) fs.writeFileSync(file, "{}\n");
  DAMAGES[how]!(file);
  return file;
}

describe("damaged files everywhere the agent reads", () => {
  rootTest(`${PLACES.length} places x ${Object.keys(DAMAGES).length} damages x 5 commands: no trace, no undocumented exit`, async () => {
    const trees: Array<Array<{ label: string; args: string[] }>> = [];
    for (const place of PLACES) {
      for (const how of Object.keys(DAMAGES)) {
        const root = copyOfInstalled();
        damage(root, place, how);
        // Read-only commands first, then the ones that change the tree, each on what the one before left.
        const commands = [["verify", "--root", root], ["render", "kubelet", "--root", root], ["plan", bundle, "--root", root], ["rollback", "--root", root], ["apply", bundle, "--root", root, "--keep-bundle"]];
        trees.push(commands.map((args) => ({ label: `${place} ${how}: ${args[0]}`, args })));
      }
    }
    const exits = new Map<string, number>();
    const runTree = async (runs: Array<{ label: string; args: string[] }>): Promise<void> => {
      for (const run of runs) {
        const result = await runAgent(run.args, { ...QUIET, timeout: 30_000 });
        expect(result.timedOut, `${run.label} hung`).toBeFalsy();
        if (result.exitCode !== 0) expectCleanFailure(result, run.label);
        exits.set(String(result.exitCode), (exits.get(String(result.exitCode)) ?? 0) + 1);
      }
    };
    // Four damaged trees side by side; the commands of one tree in order.
    for (let at = 0; at < trees.length; at += 4) await Promise.all(trees.slice(at, at + 4).map(runTree));
    const runs = trees.flat();
    console.log(`damaged files: ${runs.length} runs, exit codes ${[...exits].map(([code, count]) => `${code}x${count}`).join(" ")}`);
  }, 300_000);

  rootTest("a damaged backup: rollback names it, changes nothing, and says how to skip it; skipped, the one before it is used", async () => {
    for (const how of Object.keys(DAMAGES)) {
      const root = copyOfInstalled();
      const file = damage(root, "BACKUP", how);
      const before = managedTree(root);
      const refused = await runAgent(["rollback", "--root", root], QUIET);
      const label = `${how}: ${String(refused.stderr)}`;
      expect(refused.exitCode, label).toBe(74);
      expectCleanFailure(refused, how);
      expect(String(refused.stderr), label).toContain(`backup /${path.relative(root, file)} cannot be read`);
      expect(managedTree(root), label).toEqual(before);
      const skip = /hint: .*: (mv -- \S+ \S+)/.exec(String(refused.stderr))?.[1];
      expect(skip, label).toBe(`mv -- ${file} ${file}.damaged`);
      execSync(skip!);
      const next = await runAgent(["rollback", "--root", root], QUIET);
      expect(next.exitCode, `${how}, after skipping it: ${String(next.stderr)}`).toBe(0);
    }
  }, 120_000);

  rootTest("a damaged transaction record: the apply that finds it sets it aside (exit 74, the record kept), the next one succeeds", async () => {
    for (const how of Object.keys(DAMAGES)) {
      const root = copyOfInstalled();
      damage(root, `${STATE}/state.json`, how);
      const first = await runAgent(["apply", bundle, "--root", root, "--keep-bundle"], QUIET);
      expect(first.exitCode, `${how}: ${String(first.stderr)}`).toBe(74);
      expect(String(first.stderr), how).toMatch(/set aside as \/var\/lib\/typhoon-agent\/state\.\d{8}T\d{9}Z\.unrecoverable\.json/);
      const second = await runAgent(["apply", bundle, "--root", root, "--keep-bundle"], QUIET);
      expect(second.exitCode, `${how}, the next apply: ${String(second.stderr)}`).toBe(0);
      expect(String(second.stderr), how).toMatch(/warning: \/var\/lib\/typhoon-agent\/state\.\S+\.unrecoverable\.json holds a transaction no run could complete/);
    }
  }, 120_000);

  rootTest("half-written files a dead run or a full disk left: plan names each, the next apply removes them though it changes nothing", async () => {
    const root = copyOfInstalled();
    await runAgent(["apply", bundle, "--root", root, "--keep-bundle"], QUIET);
    const leftovers = [`${STATE}/result.json.tmp`, `${STATE}/state.json.tmp`, `${STATE}/backups/20260101T000000000Z.tar.tmp`];
    for (const leftover of leftovers) fs.writeFileSync(path.join(root, leftover), "half");
    const plan = await runAgent(["plan", bundle, "--root", root], QUIET);
    for (const leftover of leftovers) expect(String(plan.stderr)).toContain(`warning: /${leftover} was left half-written`);
    const apply = await runAgent(["apply", bundle, "--root", root, "--keep-bundle", "--json"], QUIET);
    expect(apply.exitCode, String(apply.stderr)).toBe(0);
    expect((JSON.parse(String(apply.stdout)) as { outcome: string }).outcome).toBe("unchanged");
    for (const leftover of leftovers) expect(fs.existsSync(path.join(root, leftover)), leftover).toBe(false);
  });
});
