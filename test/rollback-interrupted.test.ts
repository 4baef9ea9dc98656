// rollback right after an apply that was killed (SIGKILL: no handler runs, the transaction
// record stays). The operator asks to undo the last apply, and the last apply is the killed one:
//   killed in prepare  recovery rolls it back; that undid the last apply, so rollback stops
//                      there (exit 0), says so and that running it again undoes the apply
//                      before; the older backup stays for that
//   killed in commit   recovery completes it; it is in effect, so rollback undoes it from its
//                      own backup, and the older backup stays
// and the two cases around them: a killed rollback, whose transaction recovery takes back, is
// no apply, so rollback goes on to undo the last apply; a killed first install leaves no
// earlier apply, and the summary says so. strace stops the agent deterministically: SIGKILL at
// the call that touches one installed key (prepare: its undo link, or the mkdir of its
// directory on a first install; commit: the temp renamed over it).

import { execSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { execa } from "execa";
import { beforeAll, describe, expect, test } from "vitest";
import { AGENT, runAgent } from "./helpers/agent-binary.ts";
import { recorded } from "./helpers/canary.ts";
import { makeHost, writeSampleBundle } from "./helpers/host.ts";
import { managedTree, tempDir, type TreeEntry } from "./helpers/tree.ts";
import { hasCommand } from "./helpers/pki-replacement.ts";

const usable = process.getuid?.() === 0 && hasCommand("strace");
if (!usable) console.log("interrupted-rollback tests skipped: they need root and strace");
const straceTest = usable ? test : test.skip;
const ENV = { TYPHOON_AGENT_JOURNAL: "stderr" };
const BACKUPS = "var/lib/typhoon-agent/backups";
const KEY = "etc/kubernetes/pki/apiserver.key";

let work: string;
let installed: string;
let second: string;
let firstTree: Map<string, TreeEntry>;
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
  firstBackup = backups(installed)[0]!;
}, 60_000);

describe("rollback after a killed apply undoes that apply, and only that one", () => {
  straceTest("killed in prepare: recovery undoes it, rollback stops there and says how to go one further", async () => {
    const root = copyTree(installed, "prepare");
    await killAt(root, "link", applySecond);
    const [, killedBackup] = backups(root);
    expect(killedBackup, "the killed apply wrote no backup").toBeDefined();
    const killed = killedBackup!.replace(/\.tar$/, "");
    const viaJson = await runAgent([...rollback(copyTree(root, "prepare-json")), "--json"], { env: ENV });
    expect(viaJson.exitCode, String(viaJson.stderr)).toBe(0);
    const report = JSON.parse(String(viaJson.stdout)) as Record<string, unknown>;
    expect(report).toEqual({ recovered: { id: killed, outcome: "rolled back", backup: `/${BACKUPS}/${killedBackup}` }, restored: [], removed: [], next: `/${BACKUPS}/${firstBackup}`, durationMs: expect.any(Number) });

    const run = await runAgent(rollback(root), { env: ENV });
    expect(run.exitCode, String(run.stderr)).toBe(0);
    expect(String(run.stdout)).toBe(`rolled back the interrupted apply ${killed} and stopped: the apply before it is in effect; run typhoon-agent rollback again to undo that one as well, from /${BACKUPS}/${firstBackup}\n`);
    expect(String(run.stderr)).toContain(`found transaction ${killed} interrupted and rolled it back`);
    expect(managedTree(root), "the first install, as it was before the killed apply").toEqual(firstTree);
    expect(backups(root), "the first install's backup kept for the next rollback").toEqual([firstBackup]);

    const again = await runAgent(rollback(root), { env: ENV });
    expect(again.exitCode, String(again.stderr)).toBe(0);
    expect(String(again.stdout)).toContain(`rolled back /${BACKUPS}/${firstBackup}:`);
    expect(fs.existsSync(`${root}/${KEY}`), "the second rollback undid the first install").toBe(false);
  }, 60_000);

  straceTest("killed in commit: recovery completes it, rollback undoes it from its own backup", async () => {
    const root = copyTree(installed, "commit");
    await killAt(root, "rename", applySecond);
    const [, killedBackup] = backups(root);
    expect(killedBackup, "the killed apply wrote no backup").toBeDefined();

    const run = await runAgent(rollback(root), { env: ENV });
    expect(run.exitCode, String(run.stderr)).toBe(0);
    expect(String(run.stderr)).toContain(`found transaction ${killedBackup!.replace(/\.tar$/, "")} interrupted and completed it`);
    expect(String(run.stdout)).toMatch(new RegExp(`^rolled back /${BACKUPS}/${killedBackup}: \\d+ restored, 0 removed in \\d+ ms\\n$`));
    expect(managedTree(root), "the first install, the killed apply undone").toEqual(firstTree);
    expect(backups(root), "the killed apply's backup consumed, the first install's kept").toEqual([firstBackup]);
  }, 60_000);

  straceTest("a killed rollback is not an apply: recovery takes it back, and rollback then undoes the last apply", async () => {
    const root = copyTree(installed, "killed-rollback");
    expect((await runAgent(applySecond(root), { env: ENV })).exitCode).toBe(0);
    const [, secondBackup] = backups(root);
    await killAt(root, "link", rollback);

    const run = await runAgent(rollback(root), { env: ENV });
    expect(run.exitCode, String(run.stderr)).toBe(0);
    expect(String(run.stderr)).toMatch(/found transaction \d{8}T\d{9}Z interrupted and rolled it back/);
    expect(String(run.stdout)).toMatch(new RegExp(`^rolled back /${BACKUPS}/${secondBackup}: \\d+ restored, 0 removed in \\d+ ms\\n$`));
    expect(managedTree(root), "the first install").toEqual(firstTree);
    expect(backups(root)).toEqual([firstBackup]);
  }, 60_000);

  straceTest("the first install killed in prepare: rollback stops at undoing it, and says no earlier apply is left", async () => {
    const root = copyTree(installed, "first");
    execSync(`rm -rf ${root}/etc/kubernetes ${root}/etc/ssl ${root}/etc/systemd ${root}/opt ${root}/var/lib/typhoon-agent/*`);
    const bare = managedTree(root);
    await killAt(root, "mkdir", applySecond);
    const [killedBackup] = backups(root);

    const run = await runAgent(rollback(root), { env: ENV });
    expect(run.exitCode, String(run.stderr)).toBe(0);
    expect(String(run.stdout)).toBe(`rolled back the interrupted apply ${killedBackup!.replace(/\.tar$/, "")} and stopped: no backup of an earlier apply is left to roll back to\n`);
    expect(managedTree(root)).toEqual(bare);
  }, 60_000);
});

const applySecond = (root: string): string[] => ["apply", second, "--root", root, "--keep-bundle"];
const rollback = (root: string): string[] => ["rollback", "--root", root, "--no-start"];

/** How each system call shows in strace's log when it touches the key (or, for mkdir, its directory) below `root`. */
const CALL_ON = {
  link: (root: string) => `link("${root}/${KEY}", `,
  rename: (root: string) => `, "${root}/${KEY}")`,
  mkdir: (root: string) => `mkdir("${root}/${path.dirname(KEY)}", `,
};

/** Runs the command and kills it (SIGKILL) as it enters its first `syscall` on the installed key (mkdir: on its directory). */
async function killAt(root: string, syscall: keyof typeof CALL_ON, command: (root: string) => string[]): Promise<void> {
  // strace's -P matches a rename by its source only, the temp file, whose name is not known
  // beforehand: the same command on a copy tells which of its calls touches the key.
  const nth = callsUntil(root, syscall, command);
  const strace = ["-f", "-qq", "-o", "/dev/null", "-e", `trace=${syscall}`, "-e", `inject=${syscall}:signal=SIGKILL:when=${nth}`];
  const run = recorded(`${command(root).join(" ")} killed at ${syscall} ${nth}`, await execa("strace", [...strace, AGENT, ...command(root)], { reject: false, env: ENV }));
  // strace exits as its tracee did, or as 128 + the signal's number.
  expect(run.signal ?? run.exitCode, `not killed\n${run.stderr}`).toBeOneOf(["SIGKILL", 128 + 9]);
  expect(fs.existsSync(`${root}/var/lib/typhoon-agent/state.json`), "the kill left no transaction record").toBe(true);
}

/** Which call of `syscall` the undisturbed command makes on the key (counted from 1), on a copy of `root`. */
function callsUntil(root: string, syscall: keyof typeof CALL_ON, command: (root: string) => string[]): number {
  const copy = copyTree(root, `${path.basename(root)}-count`);
  const log = path.join(work, `${path.basename(root)}.log`);
  execSync(`strace -f -qq -o ${log} -e trace=${syscall} ${[AGENT, ...command(copy)].join(" ")} 2>/dev/null`, { env: { ...process.env, ...ENV } });
  const calls = fs.readFileSync(log, "utf8").split("\n").filter((line) => /^\d+\s+\w+\(/.test(line));
  const at = calls.findIndex((line) => line.includes(CALL_ON[syscall](copy)));
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
