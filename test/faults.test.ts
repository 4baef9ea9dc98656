// Fault injection: an apply that replaces an installed tree with a new PKI (plus legacy
// removals and a directory repair) is made to fail at every call site of every kind that can
// fail (EACCES on each open, EIO on each readdir, ENOSPC on each write, EIO on each rename,
// fsync and syncfs, EXDEV on each rename site: strace's syscall tampering, at sites found
// from a trace of the same run), with SIGTERM, SIGINT and SIGHUP at
// a seeded sample of its renames, with kill -9 at random moments, and on a full filesystem.
// After each: a handled failure leaves the old tree exactly (content, owner, mode) and no
// temp files; a success leaves the new tree, and is never silent about a host file it could
// not handle; a killed process leaves each file old or new; no secret is ever readable by
// group or others; and a clean re-apply converges.

import { execSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { PHASES } from "../agent/errors.ts";
import { AGENT } from "./helpers/agent-binary.ts";
import { recorded, recordOutput } from "./helpers/canary.ts";
import { inParallel, keyOf, realign, sitesOf, type Site } from "./helpers/fault-sweep.ts";
import { QUIET_ENV as ENV, agentApply, copyTree, hasCommand, makePkiReplacement } from "./helpers/pki-replacement.ts";
import { runSeed, seededRandom } from "./helpers/random.ts";
import { descriptorPath, opens, pathPair, traceRun, type Call, type TracedRun } from "./helpers/syscall-trace.ts";
import { managedTree, snapshotTree, tempDir, type TreeEntry } from "./helpers/tree.ts";

const usable = process.getuid?.() === 0 && hasCommand("strace");
if (!usable) console.log("fault-injection tests skipped: they need root and strace");
const faultTest = usable ? test : test.skip;
const seed = runSeed();
console.log(`faults seed ${seed} (replay with TEST_SEED=${seed}; the call-site sweeps do not depend on it)`);

const TEMP_NAME = /\.typhoon-agent\.[^/]*\.(tmp|orig)$/;
/** Recognizes secret material by content: temp and undo files carry no telling name. */
const SECRET_CONTENT = /PRIVATE KEY|client-key-data|token-secret/;
/** Injections run side by side: each is a process of its own under its own strace. */
const PARALLEL = 3;

interface Fixture {
  work: string;
  installed: string;
  bundle: string;
  oldTree: Map<string, TreeEntry>;
  newTree: Map<string, TreeEntry>;
}
let fixture: Fixture;

beforeAll(async () => {
  if (!usable) return;
  const work = tempDir("typhoon-faults-");
  const { installed, bundle } = await makePkiReplacement(work);
  const reference = copyTree(installed, path.join(work, "reference"));
  await agentApply(reference, bundle);
  fixture = { work, installed, bundle, oldTree: managedTree(installed), newTree: managedTree(reference) };
}, 60_000);

afterAll(() => {
  if (fixture !== undefined) fs.rmSync(fixture.work, { recursive: true, force: true });
});

describe("injected syscall failures, at every call site", () => {
  // [what, syscalls, errno, granularity]. A rename or a flush is a step of its own, so each
  // call is a site; reads and writes come in loops, of which each stretch is one site.
  const sweeps: Array<[string, string[], string, "every call" | "each site"]> = [
    ["EACCES on every open", ["open", "openat"], "EACCES", "each site"],
    ["EIO on every readdir", ["getdents64"], "EIO", "each site"],
    ["ENOSPC on every write", ["write", "pwrite64", "writev"], "ENOSPC", "each site"],
    ["EIO on every rename", ["rename", "renameat", "renameat2"], "EIO", "every call"],
    ["EXDEV on every rename", ["rename", "renameat", "renameat2"], "EXDEV", "each site"],
    // syncfs is the agent's own call (libc through bun:ffi), like its fsyncs.
    ["EIO on every fsync and syncfs", ["fsync", "fdatasync", "syncfs"], "EIO", "every call"],
  ];
  for (const [title, syscalls, errno, granularity] of sweeps) {
    faultTest(`${title} ${granularity === "every call" ? "call" : "call site"} of the apply`, async () => {
      const sites = await sitesOfApply(syscalls, granularity, title);
      expect(sites.length, `no ${syscalls.join(",")} calls seen`).toBeGreaterThan(0);
      const outcomes = await inParallel(sites, PARALLEL, (site) => injectAt(site, errno, title));
      console.log(`${title}: ${sites.length} sites; exit code per site (syscall#N) ${outcomes.join(" ")}`);
    }, 240_000);
  }
});

/** The sites of `syscalls` in the main thread of an apply of the fixture. */
async function sitesOfApply(syscalls: readonly string[], granularity: "every call" | "each site", title: string): Promise<Site[]> {
  const root = copyTree(fixture.installed, path.join(fixture.work, `count-${hash(title)}`));
  const counted = await traceRun(`${root}.trace`, syscalls, [AGENT, ...applyArgs(root)], { env: ENV, mainThreadOnly: true });
  expect(counted.exitCode, counted.stderr).toBe(0);
  fs.rmSync(root, { recursive: true, force: true });
  return sitesOf(counted.calls, syscalls, root, granularity);
}

/**
 * One apply with `errno` injected at `site`; checks where it landed and what it left. The
 * runtime's timed calls (NOISE) can shift the site's number: such a run is repeated on a fresh
 * copy, aimed at the call with the site's ordinal among the calls that are not noise.
 * Returns "syscall#N:exit".
 */
async function injectAt(site: Site, errno: string, title: string): Promise<string> {
  const what = `${title}: ${site.syscall} #${site.n} (${site.key})`;
  let n = site.n;
  for (let attempt = 1; ; attempt++) {
    const root = copyTree(fixture.installed, path.join(fixture.work, `${hash(title)}-${site.syscall}-${site.n}`));
    const inject = ["-e", `inject=${site.syscall}:error=${errno}:when=${n}`];
    const run = await traceRun(`${root}.trace`, [site.syscall], [AGENT, ...applyArgs(root)], { env: ENV, mainThreadOnly: true, extra: inject });
    const injected = run.calls.find((call) => call.injected);
    const landed = injected === undefined ? "nothing injected" : keyOf(injected, root);
    const next = realign(run.calls, site, n, root);
    if (landed !== site.key && next !== n && attempt < 5) {
      n = next;
      continue;
    }
    expect(landed, `${what}: the injection lands on its site (attempt ${attempt}, at #${n})`).toBe(site.key);
    await checkInjected(root, run, injected!, what);
    return `${site.syscall}#${n}:${run.exitCode}`;
  }
}

async function checkInjected(root: string, run: TracedRun, injected: Call, what: string): Promise<void> {
  checkOutcome(root, run, what);
  checkNotSilent(root, run, injected, what);
  await converge(root);
  fs.rmSync(root, { recursive: true, force: true });
  fs.rmSync(`${root}.trace`, { force: true });
}

/**
 * A failure on a host file (or the bundle) that the apply survived with exit 0 must be said:
 * a warning naming the file. Taken silently, an unreadable directory or record looks empty.
 */
function checkNotSilent(root: string, run: { exitCode?: number | undefined; stderr: string }, injected: Call, what: string): void {
  if (run.exitCode !== 0) return;
  const touched = opens([injected])[0]?.path ?? pathPair(injected)?.to ?? descriptorPath(injected.args[0]) ?? "";
  // A temporary file is named by the file it becomes: `x.tmp` is x, a metrics file's `.x.<pid>.tmp` is x.
  const becomes = (file: string): string => file.replace(/\/\.([^/]+)\.\d+\.tmp$/, "/$1").replace(/\.tmp$/, "");
  const hostPath = touched.startsWith(`${root}/`) ? becomes(touched.slice(root.length)) : touched === fixture.bundle ? touched : undefined;
  if (hostPath === undefined) return;
  const warnings = run.stderr.split("\n").filter((line) => /^(typhoon-agent: )?warning: /.test(line));
  expect(warnings.some((line) => line.includes(hostPath)), `${what}: exit 0, so a warning must name ${hostPath}:\n${run.stderr}`).toBe(true);
}

describe("signals", () => {
  // strace delivers the signal as the Nth rename enters the kernel; the rename itself goes
  // through. Transaction steps are renames, so the sweep lands in prepare, commit and after.
  for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"]) {
    faultTest(`${signal} during an apply rolls it back, or lets it finish, never half`, async () => {
      const syscalls = "rename,renameat,renameat2";
      const calls = countSyscalls(syscalls);
      const outcomes: string[] = [];
      for (const n of sample(calls, 8, seededRandom(seed ^ hash(signal)))) {
        const root = copyTree(fixture.installed, path.join(fixture.work, `${signal}-${n}`));
        const run = await execa(
          "strace",
          ["-qq", "-o", "/dev/null", "-e", `trace=${syscalls}`, "-e", `inject=${syscalls}:signal=${signal}:when=${n}`, AGENT, ...applyArgs(root)],
          { reject: false, env: ENV },
        );
        recordOutput(`apply with ${signal} at rename ${n}`, run.stdout, run.stderr);
        outcomes.push(`${n}:${run.exitCode}`);
        checkOutcome(root, run, `${signal} at rename ${n}`);
        if (run.exitCode === 1) expect(run.stderr, `${signal} at rename ${n}`).toContain(`interrupted by ${signal}`);
        await converge(root);
        fs.rmSync(root, { recursive: true, force: true });
      }
      console.log(`${signal}: exit codes per rename ${outcomes.join(" ")}`);
      expect(outcomes.some((outcome) => outcome.endsWith(":1")), "no signal landed inside the transaction").toBe(true);
    }, 60_000);
  }
});

describe("what it cannot read is an error, never taken for absent", () => {
  // An apply that could not list /etc/kubernetes/manifests, or read the install record or the
  // passwd file, went on as if they were empty: it succeeded and left a pod-checkpointer
  // manifest (or files the bundle no longer holds) behind, or blamed a missing etcd user.
  // Each is made unreadable in turn (EACCES on every open of that path, strace -P) and must
  // stop the apply, naming it, before it changes anything.
  const cases: Array<[string, string]> = [
    ["the static pod directory", "/etc/kubernetes/manifests"],
    ["the install record", "/var/lib/typhoon-agent/installed.json"],
    ["the passwd file", "/etc/passwd"],
  ];
  for (const [what, hostPath] of cases) {
    faultTest(`${what}: exit 73 naming it, the old tree kept`, async () => {
      const root = copyTree(fixture.installed, path.join(fixture.work, `unreadable-${hash(what)}`));
      const only = ["-P", `${root}${hostPath}`, "-e", "trace=open,openat", "-e", "inject=open,openat:error=EACCES"];
      const run = recorded(`apply under strace ${only.join(" ")}`, await execa("strace", ["-f", "-qq", "-o", "/dev/null", ...only, AGENT, ...applyArgs(root)], {
        reject: false,
        env: ENV,
      }));
      expect({ exitCode: run.exitCode, stderr: run.stderr }).toMatchObject({ exitCode: 73, stderr: expect.stringContaining(`${hostPath}: EACCES`) });
      checkOutcome(root, run, `EACCES reading ${hostPath}`);
      await converge(root);
    });
  }
});

describe("undoing fails too", () => {
  // The fifth rename of the commit fails, and so does the first undo (the fourth file's rename
  // back): the run stops there, exit 74, and keeps the record and the backup, so the next run
  // finishes what the record describes. The files committed before the failure stay new; had
  // the undo gone on past its failure, they would be old while the record says "commit".
  faultTest("a failed commit whose undo fails: exit 74, record and backup kept, the committed files left for the record, the next apply completes them", async () => {
    const counted = copyTree(fixture.installed, path.join(fixture.work, "undo-count"));
    const renames = await traceRun(`${counted}.trace`, ["rename"], [AGENT, ...applyArgs(counted)], { env: ENV, mainThreadOnly: true });
    const commits = renames.calls.map((call, index) => ({ n: index + 1, ...pathPair(call)! })).filter((rename) => TEMP_NAME.test(rename.from));
    const failing = commits[4]!.n;
    const root = copyTree(fixture.installed, path.join(fixture.work, "undo-fails"));
    const inject = ["-e", `inject=rename:error=EIO:when=${failing}..${failing + 1}`];
    const run = await traceRun(`${root}.trace`, ["rename"], [AGENT, ...applyArgs(root)], { env: ENV, mainThreadOnly: true, extra: inject });
    expect({ exitCode: run.exitCode, stderr: run.stderr }).toMatchObject({ exitCode: 74, stderr: expect.stringContaining("and undoing it failed too") });
    const record = JSON.parse(fs.readFileSync(`${root}/var/lib/typhoon-agent/state.json`, "utf8")) as { phase: string; backup: string };
    expect(record.phase).toBe("commit");
    expect(fs.existsSync(`${root}${record.backup}`), "the backup is kept").toBe(true);
    const tree = managedTree(root);
    for (const committed of commits.slice(0, 4).map((rename) => path.relative(counted, rename.to))) {
      expect({ committed, content: tree.get(committed)?.content === fixture.newTree.get(committed)?.content }).toEqual({ committed, content: true });
    }
    expect(exposedSecrets(root)).toEqual([]);
    await converge(root);
  });
});

describe("a bundle still being written: the process table", () => {
  // apply looks in /proc for a process that still writes a bundle changed in the last minute;
  // a /proc it cannot list could hide the writer, so it is an error, not "nobody writes it".
  faultTest("EIO listing /proc: exit 74 naming it, the old tree kept", async () => {
    const root = copyTree(fixture.installed, path.join(fixture.work, "proc-eio"));
    const fresh = path.join(fixture.work, "fresh-bundle");
    fs.copyFileSync(fixture.bundle, fresh);
    const only = ["-P", "/proc", "-e", "trace=getdents64", "-e", "inject=getdents64:error=EIO"];
    const run = recorded("apply with /proc unlistable", await execa("strace", ["-qq", "-o", "/dev/null", ...only, AGENT, "apply", fresh, "--root", root, "--no-start", "--keep-bundle"], { reject: false, env: ENV }));
    expect({ exitCode: run.exitCode, stderr: run.stderr }).toMatchObject({ exitCode: 74, stderr: expect.stringContaining("cannot list /proc: EIO") });
    expect(managedTree(root)).toEqual(fixture.oldTree);
  });
});

describe("signals during a rollback", () => {
  // rollback runs the same transaction as apply, signals included: it is undone, or done, never half.
  faultTest("SIGTERM at each rename of a rollback leaves the tree before or after it", async () => {
    const syscalls = "rename,renameat,renameat2";
    const before = copyTree(fixture.installed, path.join(fixture.work, "rollback-before"));
    await agentApply(before, fixture.bundle);
    const after = copyTree(before, path.join(fixture.work, "rollback-after"));
    const done = recorded("rollback", await execa(AGENT, ["rollback", "--root", after, "--no-start"], { reject: false, env: ENV }));
    expect(done.exitCode, done.stderr).toBe(0);
    const log = path.join(fixture.work, "rollback.log");
    const counted = copyTree(before, path.join(fixture.work, "rollback-count"));
    execSync(`strace -qq -o ${log} -e trace=${syscalls} ${AGENT} rollback --root ${counted} --no-start 2>/dev/null`, { env: { ...process.env, ...ENV } });
    const calls = fs.readFileSync(log, "utf8").split("\n").filter((line) => /^\w+\(/.test(line)).length;
    const outcomes: string[] = [];
    for (const n of sample(calls, 8, seededRandom(seed ^ hash("rollback")))) {
      const root = copyTree(before, path.join(fixture.work, `rollback-${n}`));
      const run = recorded(`rollback with SIGTERM at rename ${n}`, await execa("strace", ["-qq", "-o", "/dev/null", "-e", `trace=${syscalls}`, "-e", `inject=${syscalls}:signal=SIGTERM:when=${n}`, AGENT, "rollback", "--root", root, "--no-start"], {
        reject: false,
        env: ENV,
      }));
      outcomes.push(`${n}:${run.exitCode}`);
      const expected = run.exitCode === 0 ? after : before;
      expect(managedTree(root), `SIGTERM at rename ${n}: exit ${run.exitCode} (${run.stderr.split("\n").at(-2)})`).toEqual(managedTree(expected));
      expect(tempFiles(root), `SIGTERM at rename ${n}`).toEqual([]);
      if (run.exitCode === 1) expect(run.stderr, `SIGTERM at rename ${n}`).toContain("rollback failed and was rolled back: interrupted by SIGTERM");
    }
    console.log(`rollback SIGTERM: exit codes per rename ${outcomes.join(" ")}`);
    expect(outcomes.some((outcome) => outcome.endsWith(":1")), "no signal landed inside the rollback's transaction").toBe(true);
  }, 60_000);
});

describe("kill -9 and a full disk", () => {
  faultTest("kill -9 at random moments: each file old or new, no secret ever exposed, re-apply converges", async () => {
    const random = seededRandom(seed);
    const span = measureApplyMs();
    for (let i = 0; i < 12; i++) {
      const root = copyTree(fixture.installed, path.join(fixture.work, `kill-${i}`));
      const delay = random.next() * span;
      const exposed = await killDuring(root, delay);
      expect(exposed, `kill after ${delay.toFixed(1)} ms`).toEqual([]);
      checkEachFileOldOrNew(root, `kill after ${delay.toFixed(1)} ms`);
      await converge(root);
      fs.rmSync(root, { recursive: true, force: true });
    }
  }, 60_000);

  faultTest("a full filesystem: every size too small fails, rolls back, and leaves the old tree intact", async () => {
    const mountPoint = path.join(fixture.work, "small");
    fs.mkdirSync(mountPoint);
    const used = Number(execSync(`du -sk ${fixture.installed}`).toString().split("\t")[0]);
    const failures: number[] = [];
    // Grow the filesystem 16 KiB at a time from "just the installed tree" until the apply fits.
    for (let extra = 16; extra <= 512; extra += 16) {
      execSync(`mount -t tmpfs -o size=${used + extra}k tmpfs ${mountPoint}`);
      try {
        const root = copyTree(fixture.installed, path.join(mountPoint, "root"));
        const run = recorded("apply on a small filesystem", await execa(AGENT, applyArgs(root), { reject: false, env: ENV }));
        if (run.exitCode === 0) {
          expect(managedTree(root)).toEqual(fixture.newTree);
          break;
        }
        failures.push(extra);
        expect(run.stderr, `${extra} KiB spare`).toMatch(/ENOSPC/);
        expect(managedTree(root), `${extra} KiB spare`).toEqual(fixture.oldTree);
        expect(tempFiles(root), `${extra} KiB spare`).toEqual([]);
      } finally {
        execSync(`umount ${mountPoint}`);
      }
    }
    console.log(`full filesystem: refused cleanly with ${failures.join(", ")} KiB to spare`);
    expect(failures.length).toBeGreaterThan(1);
  }, 30_000);
});

function applyArgs(root: string): string[] {
  return ["apply", fixture.bundle, "--root", root, "--no-start", "--keep-bundle"];
}

function tempFiles(root: string): string[] {
  return [...snapshotTree(root).keys()].filter((name) => TEMP_NAME.test(name) || name.endsWith("state.json"));
}

/** The invariant for a run that ended on its own. */
function checkOutcome(root: string, run: { exitCode?: number | undefined; stderr: string }, what: string): void {
  const handled = run.exitCode !== undefined && /typhoon-agent: /.test(run.stderr);
  if (run.exitCode === 0) {
    expect(managedTree(root), `${what}: success must leave the new tree`).toEqual(fixture.newTree);
  } else if (handled && !/undoing it failed too/.test(run.stderr)) {
    expect(managedTree(root), `${what}: exit ${run.exitCode} must leave the old tree (${run.stderr.split("\n").at(-2)})`).toEqual(fixture.oldTree);
    expect(tempFiles(root), what).toEqual([]);
    // Every failed apply names its phase; one refused before its configuration loaded (no role) has none.
    const resultFile = `${root}/var/lib/typhoon-agent/result.json`;
    const result = (fs.existsSync(resultFile) ? JSON.parse(fs.readFileSync(resultFile, "utf8")) : {}) as { role?: string; phase?: string };
    if (result.role !== undefined) expect(PHASES as readonly (string | undefined)[], `${what}: the phase it failed in`).toContain(result.phase);
  } else {
    // The runtime itself died, or undoing the transaction failed too (its record stays for
    // the next apply): each file old or new.
    checkEachFileOldOrNew(root, what);
  }
  expect(exposedSecrets(root), what).toEqual([]);
}

function checkEachFileOldOrNew(root: string, what: string): void {
  for (const [name, entry] of snapshotTree(root)) {
    if (entry.type !== "file" || TEMP_NAME.test(name) || !fixture.newTree.has(name)) continue;
    const old = fixture.oldTree.get(name);
    const next = fixture.newTree.get(name)!;
    const matches = (expected: TreeEntry | undefined): boolean => expected !== undefined && expected.content === entry.content;
    expect(matches(old) || matches(next), `${what}: ${name} is neither the old nor the new version`).toBe(true);
  }
}

/** Files holding secret material that group or others could read. */
function exposedSecrets(root: string): string[] {
  const exposed: string[] = [];
  const walk = (directory: string): void => {
    let names: string[];
    try {
      names = fs.readdirSync(directory);
    } catch {
      return; // renamed or removed under our feet: the next scan sees it
    }
    for (const name of names) {
      const full = path.join(directory, name);
      try {
        const stat = fs.lstatSync(full);
        if (stat.isDirectory()) walk(full);
        else if (stat.isFile() && (stat.mode & 0o077) !== 0 && SECRET_CONTENT.test(fs.readFileSync(full, "latin1"))) exposed.push(full);
      } catch {
        // gone between readdir and lstat: renamed into place or removed
      }
    }
  };
  for (const top of ["etc", "opt", "var/lib/typhoon-agent"]) walk(path.join(root, top));
  return exposed;
}

/** Runs the apply, scans the tree as fast as it can while it runs, kills it after `delay` ms. */
async function killDuring(root: string, delay: number): Promise<string[]> {
  const child = spawn(AGENT, applyArgs(root), { stdio: "ignore", env: { ...process.env, ...ENV } });
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  const exposed = new Set<string>();
  const deadline = performance.now() + delay;
  while (performance.now() < deadline && child.exitCode === null) {
    for (const file of exposedSecrets(root)) exposed.add(file);
    await new Promise((resolve) => setImmediate(resolve));
  }
  child.kill("SIGKILL");
  await exited;
  for (const file of exposedSecrets(root)) exposed.add(file);
  return [...exposed];
}

/** A clean apply after any failure installs the new tree and leaves nothing behind. */
async function converge(root: string): Promise<void> {
  const run = recorded("apply converging", await execa(AGENT, applyArgs(root), { reject: false, env: ENV }));
  expect(run.exitCode, run.stderr).toBe(0);
  expect(managedTree(root)).toEqual(fixture.newTree);
  expect(tempFiles(root)).toEqual([]);
}

function countSyscalls(syscalls: string): number {
  const root = copyTree(fixture.installed, path.join(fixture.work, "count"));
  const log = path.join(fixture.work, "count.log");
  execSync(`strace -f -qq -o ${log} -e trace=${syscalls} ${AGENT} ${applyArgs(root).join(" ")} 2>/dev/null`, { env: { ...process.env, ...ENV } });
  const calls = fs.readFileSync(log, "utf8").split("\n").filter((line) => /^\d+\s+\w+\(/.test(line)).length;
  fs.rmSync(root, { recursive: true, force: true });
  return calls;
}

function measureApplyMs(): number {
  const root = copyTree(fixture.installed, path.join(fixture.work, "timing"));
  const started = performance.now();
  execSync(`${AGENT} ${applyArgs(root).join(" ")} 2>/dev/null`, { env: { ...process.env, ...ENV } });
  const elapsed = performance.now() - started;
  fs.rmSync(root, { recursive: true, force: true });
  return elapsed;
}

/** `count` distinct call numbers in [1, calls]: the first, the last, the rest at random. */
function sample(calls: number, count: number, random: ReturnType<typeof seededRandom>): number[] {
  const picked = new Set<number>([1, calls]);
  while (picked.size < Math.min(count, calls)) picked.add(random.int(1, calls));
  return [...picked].sort((a, b) => a - b);
}

function hash(text: string): number {
  let value = 0;
  for (const character of text) value = (value * 31 + character.charCodeAt(0)) >>> 0;
  return value;
}
