// rollback right after an apply that was killed (SIGKILL: no handler runs, the transaction
// record stays). The operator asks to undo the last apply, and the last apply is the killed one:
//   killed in prepare  recovery rolls it back; that undid the last apply, so rollback stops
//                      there (exit 0), says so and that running it again undoes the apply
//                      before; the older backup stays for that
//   killed in commit   recovery completes it; it is in effect, so rollback undoes it from its
//                      own backup, and the older backup stays
// strace stops the agent deterministically: SIGKILL at the first link (prepare: the undo link
// of a replaced key) or rename (commit: the temp renamed over it) on one installed key.

import { execSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { execa } from "execa";
import { beforeAll, describe, expect, test } from "vitest";
import { AGENT, runAgent } from "./helpers/agent-binary.ts";
import { recorded } from "./helpers/canary.ts";
import { makeHost, writeSampleBundle } from "./helpers/host.ts";
import { managedTree, tempDir, type TreeEntry } from "./helpers/tree.ts";

const usable = process.getuid?.() === 0 && commandExists("strace");
if (!usable) console.log("interrupted-rollback tests skipped: they need root and strace");
const straceTest = usable ? test : test.skip;
const ENV = { TYPHOON_AGENT_JOURNAL: "stderr" };
const BACKUPS = "var/lib/typhoon-agent/backups";
const KEY = "etc/kubernetes/pki/apiserver.key";

let work: string;
let installed: string;
let second: string;
let firstTree: Map<string, TreeEntry>;
let secondTree: Map<string, TreeEntry>;
let firstBackup: string;

beforeAll(async () => {
  if (!usable) return;
  work = tempDir("typhoon-rollback-interrupted-");
  const first = path.join(work, "b1");
  second = path.join(work, "b2");
  await writeSampleBundle(first);
  await writeSampleBundle(second, { freshPki: true });
  installed = makeHost();
  const install = await runAgent(["apply", first, "--root", installed, "--keep-bundle"], { env: ENV });
  expect(install.exitCode, String(install.stderr)).toBe(0);
  firstTree = managedTree(installed);
  [firstBackup] = backups(installed);
  const reference = copyTree(installed, "reference");
  const upgrade = await runAgent(["apply", second, "--root", reference, "--keep-bundle"], { env: ENV });
  expect(upgrade.exitCode, String(upgrade.stderr)).toBe(0);
  secondTree = managedTree(reference);
}, 60_000);

describe("rollback after a killed apply undoes that apply, and only that one", () => {
  straceTest("killed in prepare: recovery undoes it, rollback stops there and says how to go one further", async () => {
    const root = copyTree(installed, "prepare");
    await killApplyAt(root, "link");
    expect(fs.existsSync(`${root}/var/lib/typhoon-agent/state.json`), "the kill left no transaction record").toBe(true);

    const run = await runAgent(["rollback", "--root", root, "--no-start"], { env: ENV });
    expect(run.exitCode, String(run.stderr)).toBe(0);
    expect(String(run.stdout)).toMatch(/^rolled back the interrupted apply \d{8}T\d{9}Z and stopped: the apply before it is in effect; run typhoon-agent rollback again to undo that one as well\n$/);
    expect(String(run.stderr)).toMatch(/found transaction \d{8}T\d{9}Z interrupted and rolled it back/);
    expect(managedTree(root), "the first install, as it was before the killed apply").toEqual(firstTree);
    expect(backups(root), "the first install's backup kept for the next rollback").toEqual([firstBackup]);

    const again = await runAgent(["rollback", "--root", root, "--no-start"], { env: ENV });
    expect(again.exitCode, String(again.stderr)).toBe(0);
    expect(String(again.stdout)).toContain(`rolled back /${BACKUPS}/${firstBackup}:`);
    expect(fs.existsSync(`${root}/${KEY}`), "the second rollback undid the first install").toBe(false);
  }, 60_000);

  straceTest("killed in commit: recovery completes it, rollback undoes it from its own backup", async () => {
    const root = copyTree(installed, "commit");
    await killApplyAt(root, "rename");
    expect(fs.existsSync(`${root}/var/lib/typhoon-agent/state.json`), "the kill left no transaction record").toBe(true);
    const [, killedBackup] = backups(root);
    expect(killedBackup, "the killed apply wrote no backup").toBeDefined();

    const run = await runAgent(["rollback", "--root", root, "--no-start"], { env: ENV });
    expect(run.exitCode, String(run.stderr)).toBe(0);
    expect(String(run.stderr)).toContain(`found transaction ${killedBackup!.replace(/\.tar$/, "")} interrupted and completed it`);
    expect(String(run.stdout)).toMatch(new RegExp(`^rolled back /${BACKUPS}/${killedBackup}: \\d+ restored, 0 removed in \\d+ ms\\n$`));
    expect(managedTree(root), "the first install, the killed apply undone").toEqual(firstTree);
    expect(backups(root), "the killed apply's backup consumed, the first install's kept").toEqual([firstBackup]);
  }, 60_000);
});

/** Runs `apply b2` and kills it (SIGKILL) as it enters its first `syscall` on the installed key. */
async function killApplyAt(root: string, syscall: "link" | "rename"): Promise<void> {
  // strace's -P matches a rename by its source only, the temp file, whose name is not known
  // beforehand: a run on a copy tells which rename of the apply replaces the key.
  const nth = callsUntil(syscall);
  const strace = ["-f", "-qq", "-o", "/dev/null", "-e", `trace=${syscall}`, "-e", `inject=${syscall}:signal=SIGKILL:when=${nth}`];
  const run = recorded(`apply killed at ${syscall} ${nth}`, await execa("strace", [...strace, AGENT, "apply", second, "--root", root, "--keep-bundle"], { reject: false, env: ENV }));
  // strace exits as its tracee did, or as 128 + the signal's number.
  expect(run.signal ?? run.exitCode, `apply was not killed\n${run.stderr}`).toBeOneOf(["SIGKILL", 128 + 9]);
}

/** Which call of `syscall` an undisturbed `apply b2` makes on the key (counted from 1). */
function callsUntil(syscall: string): number {
  const root = copyTree(installed, `count-${syscall}`);
  const log = path.join(work, `${syscall}.log`);
  execSync(`strace -f -qq -o ${log} -e trace=${syscall} ${AGENT} apply ${second} --root ${root} --keep-bundle 2>/dev/null`, { env: { ...process.env, ...ENV } });
  const calls = fs.readFileSync(log, "utf8").split("\n").filter((line) => /^\d+\s+\w+\(/.test(line));
  const at = calls.findIndex((line) => (syscall === "link" ? line.includes(`/${KEY}", `) : line.includes(`, "${root}/${KEY}")`)));
  expect(at, `no ${syscall} of ${KEY} in\n${calls.join("\n")}`).toBeGreaterThanOrEqual(0);
  return at + 1;
}

function backups(root: string): string[] {
  return fs.readdirSync(`${root}/${BACKUPS}`).sort();
}

function copyTree(from: string, name: string): string {
  const to = path.join(work, name);
  execSync(`cp -a ${from} ${to}`);
  return to;
}

function commandExists(command: string): boolean {
  try {
    execSync(`command -v ${command}`, { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
