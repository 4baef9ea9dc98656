// The promises of the transaction, read from the system calls themselves (strace -f -yy):
// an apply that replaces a whole PKI, the rollback of it, and an unpack over an older tree.
// The state directory and /etc/ssl are filesystems of their own (tmpfs), so "a syncfs of each
// touched filesystem" means three. The syncfs may come from the agent or from a child
// (`sync --file-system`): strace -f sees both.

import { execSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { AGENT } from "./helpers/agent-binary.ts";
import { QUIET_ENV, agentApply, applyArgs, hasCommand, makePkiReplacement, type PkiReplacement } from "./helpers/pki-replacement.ts";
import { descriptorPath, opens, opensForWriting, pathOf, pathPair, succeeded, traceRun, type Call, type OpenCall } from "./helpers/syscall-trace.ts";
import { tempDir } from "./helpers/tree.ts";

const usable = process.getuid?.() === 0 && hasCommand("strace");
if (!usable) console.log("syscall contract tests skipped: they need root (tmpfs mounts, chown) and strace");
const contractTest = usable ? test : test.skip;

const SYSCALLS = [
  "open", "openat", "creat", "write", "pwrite64", "writev", "fchown", "fchmod", "chown", "chmod", "fchownat", "fchmodat",
  "rename", "renameat", "renameat2", "link", "linkat", "unlink", "unlinkat", "mkdir", "mkdirat",
  "syncfs", "fsync", "fdatasync", "sync",
];
const WRITES = new Set(["write", "pwrite64", "writev"]);
const TEMP = /\/\.typhoon-agent\.[^/]+\.tmp$/;
const UNDO = /\/\.typhoon-agent\.[^/]+\.orig$/;
const STATE = "var/lib/typhoon-agent";
/** Filesystems of their own below each root: with the root's own, three to flush. */
const MOUNTS = [STATE, "etc/ssl"];

let work: string;
let fixture: PkiReplacement;
const mounted: string[] = [];

beforeAll(async () => {
  if (!usable) return;
  work = tempDir("typhoon-contract-");
  fixture = await makePkiReplacement(work);
}, 60_000);

afterAll(() => {
  for (const mountPoint of mounted.reverse()) execSync(`umount ${mountPoint}`);
});

/** A copy of `from` with MOUNTS on tmpfs of their own. */
function rootWithMounts(from: string, name: string): string {
  const root = path.join(work, name);
  for (const mount of MOUNTS) {
    fs.mkdirSync(path.join(root, mount), { recursive: true });
    execSync(`mount -t tmpfs -o mode=0700 tmpfs ${path.join(root, mount)}`);
    mounted.push(path.join(root, mount));
  }
  execSync(`cp -a ${from}/. ${root}/`);
  fs.rmSync(path.join(root, STATE, "result.json"), { force: true });
  return root;
}

/** The device of `file`, or of its nearest ancestor that still exists (a temp renamed since). */
function deviceOf(file: string): number {
  for (let at = file; ; at = path.dirname(at)) {
    const stat = fs.statSync(at, { throwIfNoEntry: false });
    if (stat !== undefined) return stat.dev;
  }
}

const renames = (calls: readonly Call[]) =>
  calls.filter((call) => call.name.startsWith("rename") && succeeded(call)).map((call) => ({ call, ...pathPair(call)! }));

/** The renames that change what is visible: a temp over its target, or a target moved to its undo name. */
function visibleRenames(calls: readonly Call[]) {
  return renames(calls).filter((rename) => TEMP.test(rename.from) || UNDO.test(rename.to));
}

function syncedDevices(calls: readonly Call[], after: number, before: number): Set<number> {
  return new Set(
    calls.filter((call) => call.name === "syncfs" && succeeded(call) && call.index > after && call.index < before).map((call) => deviceOf(descriptorPath(call.args[0])!)),
  );
}

/** Exclusive, mode no wider than the file it becomes, owner and mode set before the first byte. */
function checkTempFiles(calls: readonly Call[]): number {
  const temps = opens(calls).filter((open) => TEMP.test(open.path) && succeeded(open.call));
  for (const open of temps) {
    const where = open.path;
    expect([...open.flags].filter((flag) => ["O_CREAT", "O_EXCL", "O_NOFOLLOW", "O_WRONLY"].includes(flag)).sort(), where).toEqual(["O_CREAT", "O_EXCL", "O_NOFOLLOW", "O_WRONLY"]);
    const target = renames(calls).find((rename) => rename.from === open.path)?.to;
    expect(target, `${where} is renamed into place`).toBeDefined();
    const final = fs.lstatSync(target!);
    const finalMode = final.mode & 0o7777;
    expect({ where, wider: (open.mode ?? 0o7777) & ~finalMode }).toEqual({ where, wider: 0 });
    const onFd = calls.filter((call) => call.index > open.call.index && call.pid === open.call.pid && descriptorPath(call.args[0]) === open.path);
    const firstWrite = onFd.find((call) => WRITES.has(call.name))?.index ?? Number.POSITIVE_INFINITY;
    const chown = onFd.find((call) => call.name === "fchown" && succeeded(call));
    const chmod = onFd.find((call) => call.name === "fchmod" && succeeded(call));
    expect({ where, owner: chown?.args.slice(1).map(Number), before: (chown?.index ?? Infinity) < firstWrite }).toEqual({ where, owner: [final.uid, final.gid], before: true });
    expect({ where, mode: Number.parseInt(chmod?.args[1] ?? "-1", 8), before: (chmod?.index ?? Infinity) < firstWrite }).toEqual({ where, mode: finalMode, before: true });
  }
  // Ignition sets the mode after the rename; the agent never touches a file it made visible.
  const byPath = calls.filter((call) => ["chmod", "chown", "fchmodat", "fchownat"].includes(call.name) && succeeded(call));
  for (const call of byPath) expect({ path: pathOf(call), directory: fs.statSync(pathOf(call)!, { throwIfNoEntry: false })?.isDirectory() ?? true }).toMatchObject({ directory: true });
  return temps.length;
}

/**
 * Every file opened for writing inside `root` is a temporary name, created exclusively: a
 * transaction's (checked above), the record's, the backup's or result.json's (no wider than
 * 0600), a metrics file's for node-exporter (0644: it reads them as nobody, and they hold no
 * secret); or the lock file, which holds nothing.
 */
function checkWritesUnderTemporaryNames(calls: readonly Call[], root: string): OpenCall[] {
  const written = opens(calls).filter((open) => succeeded(open.call) && opensForWriting(open) && open.path.startsWith(`${root}/`));
  const own = new RegExp(`^${root}/${STATE}/(state\\.json\\.tmp|result\\.json\\.tmp|backups/\\d{8}T\\d{9}Z\\.tar\\.tmp)$`);
  const metrics = /\/\.[^/]+\.prom\.\d+\.tmp$/;
  for (const open of written) {
    if (TEMP.test(open.path)) continue;
    if (open.path === `${root}/${STATE}/lock`) {
      expect(open.flags.has("O_TRUNC"), open.path).toBe(false);
      continue;
    }
    expect(open.path, "opened for writing under a name that is not a temporary one").toMatch(metrics.test(open.path) ? metrics : own);
    const widest = metrics.test(open.path) ? 0o644 : 0o600;
    expect({ path: open.path, exclusive: open.flags.has("O_EXCL") && open.flags.has("O_NOFOLLOW"), wider: (open.mode ?? 0o7777) & ~widest }).toEqual({ path: open.path, exclusive: true, wider: 0 });
  }
  return written;
}

/** A syncfs of every touched filesystem after the last prepared write and before the first visible rename, and the record's rename fsynced. */
function checkDurableBeforeFirstRename(calls: readonly Call[], root: string): void {
  const visible = visibleRenames(calls);
  expect(visible.length).toBeGreaterThan(0);
  const firstVisible = visible[0]!.call.index;
  const prepared = calls.filter((call) => {
    if (call.index >= firstVisible || !succeeded(call)) return false;
    if (WRITES.has(call.name)) return descriptorPath(call.args[0])?.startsWith(`${root}/`) === true;
    if (call.name.startsWith("link")) return UNDO.test(pathPair(call)!.to);
    return call.name.startsWith("mkdir") && pathOf(call)?.startsWith(`${root}/`) === true;
  });
  const lastPrepared = Math.max(...prepared.map((call) => call.index));
  const touched = new Set([...visible.map((rename) => deviceOf(path.dirname(rename.to))), deviceOf(`${root}/${STATE}`)]);
  expect(touched.size, "the fixture touches three filesystems").toBe(3);
  expect(syncedDevices(calls, lastPrepared, firstVisible), "syncfs between the last prepared write and the first rename, per touched filesystem").toEqual(touched);
  const record = `${root}/${STATE}/state.json`;
  const recordRename = renames(calls).filter((rename) => rename.to === record && rename.call.index < firstVisible).at(-1);
  expect(recordRename, "the commit record is renamed into place before the first visible rename").toBeDefined();
  expect(recordRename!.call.index).toBeGreaterThan(lastPrepared);
  const fsyncs = calls.filter((call) => call.name === "fsync" && succeeded(call) && descriptorPath(call.args[0]) === `${root}/${STATE}` && call.index > recordRename!.call.index && call.index < firstVisible);
  expect(fsyncs.length, "an fsync of the state directory after the record's rename, before the first visible rename").toBeGreaterThan(0);
}

/** The renames and directory modes of the commit are flushed before the undo links go. */
function checkCommitFlushedBeforeCleanup(calls: readonly Call[], root: string): void {
  const visible = visibleRenames(calls);
  const lastVisible = Math.max(...visible.map((rename) => rename.call.index));
  const cleanup = calls.find((call) => call.name.startsWith("unlink") && call.index > lastVisible && UNDO.test(pathOf(call) ?? ""));
  expect(cleanup, "the undo links are removed at the end").toBeDefined();
  const lastCommitted = Math.max(lastVisible, ...calls.filter((call) => ["chmod", "chown"].includes(call.name) && call.index < cleanup!.index && call.index > lastVisible).map((call) => call.index));
  const touched = new Set([...visible.map((rename) => deviceOf(path.dirname(rename.to))), deviceOf(`${root}/${STATE}`)]);
  expect(syncedDevices(calls, lastCommitted, cleanup!.index), "syncfs after the last rename, before the first undo link goes").toEqual(touched);
}

describe("apply, replacing a whole PKI", () => {
  let trace: { calls: Call[]; exitCode: number | undefined; stderr: string };
  let root: string;
  beforeAll(async () => {
    if (!usable) return;
    root = rootWithMounts(fixture.installed, "apply");
    trace = await traceRun(path.join(work, "apply.trace"), SYSCALLS, [AGENT, ...applyArgs(root, fixture.bundle)], { env: QUIET_ENV });
    if (trace.exitCode !== 0) throw new Error(`apply failed: ${trace.stderr}`);
  }, 60_000);

  contractTest("no secret is readable by anyone else, not even for an instant: every temp file is created O_CREAT|O_EXCL|O_NOFOLLOW no wider than its final mode, fchowned to its final owner and fchmodded before its first write", () => {
    expect(checkTempFiles(trace.calls)).toBeGreaterThanOrEqual(21);
  });

  contractTest("nothing is ever opened for writing under its final name: every file is written under a temporary name and renamed into place", () => {
    const written = checkWritesUnderTemporaryNames(trace.calls, root);
    expect(written.some((open) => open.path.endsWith(".tar.tmp")), "the backup").toBe(true);
    expect(written.some((open) => open.path.endsWith("state.json.tmp")), "the record").toBe(true);
  });

  contractTest("a transaction is durable before its first rename: a syncfs of each touched filesystem after the last temp write, and an fsync of the state directory after the record's rename", () => {
    checkDurableBeforeFirstRename(trace.calls, root);
  });

  contractTest("the renames are flushed to every touched filesystem before the undo links go", () => {
    checkCommitFlushedBeforeCleanup(trace.calls, root);
  });

  contractTest("every old file returns as the very same inode if the commit fails: each replaced file is hard-linked to its undo name before the first rename", () => {
    checkOldFilesLinkedAside(trace.calls);
  });
});

/** Each temp renamed over an existing file: that file was linked to the step's undo name first, in prepare. */
function checkOldFilesLinkedAside(calls: readonly Call[]): void {
  const firstVisible = visibleRenames(calls)[0]!.call.index;
  const links = calls.filter((call) => call.name.startsWith("link") && succeeded(call)).map((call) => ({ call, ...pathPair(call)! }));
  const replaced = visibleRenames(calls).filter((rename) => TEMP.test(rename.from) && calls.some((call) => call.index < rename.call.index && opens([call])[0]?.path === rename.to));
  expect(replaced.length, "files the apply read before replacing them").toBeGreaterThanOrEqual(21);
  for (const rename of replaced) {
    const undo = rename.from.replace(/\.tmp$/, ".orig");
    const link = links.find((candidate) => candidate.from === rename.to && candidate.to === undo);
    expect({ file: rename.to, linkedAside: link !== undefined && link.call.index < firstVisible }).toEqual({ file: rename.to, linkedAside: true });
  }
}

describe("rollback of that apply", () => {
  let trace: { calls: Call[]; exitCode: number | undefined; stderr: string };
  let root: string;
  beforeAll(async () => {
    if (!usable) return;
    root = rootWithMounts(fixture.installed, "rollback");
    await agentApply(root, fixture.bundle);
    trace = await traceRun(path.join(work, "rollback.trace"), SYSCALLS, [AGENT, "rollback", "--root", root, "--no-start"], { env: QUIET_ENV });
    if (trace.exitCode !== 0) throw new Error(`rollback failed: ${trace.stderr}`);
  }, 60_000);

  contractTest("no restored secret is readable by anyone else, not even for an instant: temp files exclusive, no wider than their final mode, owner and mode before the first write", () => {
    expect(checkTempFiles(trace.calls)).toBeGreaterThanOrEqual(21);
  });

  contractTest("nothing is ever opened for writing under its final name", () => {
    checkWritesUnderTemporaryNames(trace.calls, root);
  });

  contractTest("the restore is durable before its first rename, and flushed before its undo links go", () => {
    checkDurableBeforeFirstRename(trace.calls, root);
    checkCommitFlushedBeforeCleanup(trace.calls, root);
  });

  contractTest("the backup is consumed only once the restore is finished: after the last rename and the record's removal", () => {
    const backup = trace.calls.find((call) => call.name.startsWith("unlink") && /\/backups\/\d{8}T\d{9}Z\.tar$/.test(pathOf(call) ?? ""));
    expect(backup, "the used backup is removed").toBeDefined();
    const lastVisible = Math.max(...visibleRenames(trace.calls).map((rename) => rename.call.index));
    const recordGone = trace.calls.find((call) => call.name.startsWith("unlink") && pathOf(call) === `${root}/${STATE}/state.json`);
    expect(recordGone!.index).toBeGreaterThan(lastVisible);
    expect(backup!.index).toBeGreaterThan(recordGone!.index);
  });
});

describe("unpack over an older tree", () => {
  let trace: { calls: Call[]; exitCode: number | undefined; stderr: string };
  let target: string;
  beforeAll(async () => {
    if (!usable) return;
    target = path.join(work, "unpacked");
    execSync(`${AGENT} unpack ${fixture.oldBundle} -C ${target}`);
    fs.rmSync(path.join(target, "manifests"), { recursive: true }); // directories to create, beside files to replace
    trace = await traceRun(path.join(work, "unpack.trace"), SYSCALLS, [AGENT, "unpack", fixture.bundle, "-C", target]);
    if (trace.exitCode !== 0) throw new Error(`unpack failed: ${trace.stderr}`);
  }, 60_000);

  const staging = () => new RegExp(`^${target}/\\.typhoon-agent-unpack\\.\\d+(/|$)`);

  contractTest("files are written 0600 and directories 0700: every asset is created O_CREAT|O_EXCL|O_NOFOLLOW, 0600, inside the 0700 staging directory, and nothing in DIR is opened for writing under its final name", () => {
    const written = opens(trace.calls).filter((open) => succeeded(open.call) && opensForWriting(open));
    expect(written.length).toBeGreaterThan(40);
    for (const open of written) {
      expect(open.path).toMatch(staging());
      expect({ path: open.path, exclusive: ["O_CREAT", "O_EXCL", "O_NOFOLLOW"].every((flag) => open.flags.has(flag)), mode: open.mode }).toEqual({ path: open.path, exclusive: true, mode: 0o600 });
    }
    const made = trace.calls.filter((call) => call.name.startsWith("mkdir") && succeeded(call));
    expect(made.some((call) => staging().test(pathOf(call)!) && !/\/(new|old)$/.test(pathOf(call)!)), "the staging directory").toBe(true);
    expect(made.some((call) => !staging().test(pathOf(call)!)), "directories of DIR").toBe(true);
    for (const call of made) expect({ path: pathOf(call), mode: call.args.at(-1) }).toEqual({ path: pathOf(call), mode: "0700" });
  });

  contractTest("moved into place only after the whole bundle validated: the first rename into DIR comes after the last staged write", () => {
    const intoPlace = renames(trace.calls).filter((rename) => staging().test(rename.from) && !staging().test(rename.to));
    expect(intoPlace.length).toBeGreaterThan(40);
    const lastWrite = Math.max(...trace.calls.filter((call) => WRITES.has(call.name) && staging().test(descriptorPath(call.args[0]) ?? "")).map((call) => call.index));
    expect(intoPlace[0]!.call.index).toBeGreaterThan(lastWrite);
  });

  contractTest("a failure half-way puts every old file back: each replaced file is hard-linked aside before the rename over it", () => {
    const replaced = renames(trace.calls).filter((rename) => staging().test(rename.from) && !staging().test(rename.to) && fs.existsSync(rename.to) && !rename.to.includes("/manifests/"));
    expect(replaced.length).toBeGreaterThan(10);
    for (const rename of replaced) {
      const aside = trace.calls.find((call) => call.name.startsWith("link") && succeeded(call) && pathPair(call)!.from === rename.to && call.index < rename.call.index);
      expect({ file: rename.to, keptAside: aside !== undefined }).toEqual({ file: rename.to, keptAside: true });
    }
  });
});
