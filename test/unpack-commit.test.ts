// The commit of `unpack` (staging directory → DIR) is all or nothing: strace makes each
// mkdir, link and rename of it fail in turn, and after every failure DIR must be exactly
// as it was (old files back, new directories and the staging directory gone), after every
// success exactly the new tree. A failure of the undo itself must say where the old files are.

import { execSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { execa } from "execa";
import { beforeAll, describe, expect, test } from "vitest";
import { AGENT } from "./helpers/agent-binary.ts";
import { readFiles, snapshotTree, tempDir, type TreeEntry } from "./helpers/tree.ts";
import { recorded } from "./helpers/canary.ts";

const usable = straceWorks();
if (!usable) console.log("unpack commit fault tests skipped: they need a working strace");
const faultTest = usable ? test : test.skip;

const RENAME = "rename,renameat,renameat2";
const MKDIR = "mkdir,mkdirat";
const LINK = "link,linkat";
/** Old a and sub/b are replaced, c and the deeper ones are new, keep is not in the bundle. */
const BUNDLE = "##### a\nnew a\n##### c\nnew c\n##### sub/b\nnew b\n##### sub/new/d\nnew d\n##### z/y/x\nnew x";

let work: string;
let bundle: string;
let oldTarget: string;
let oldTree: Map<string, TreeEntry>;
let newFiles: Map<string, Buffer>;
let copies = 0;

beforeAll(async () => {
  work = tempDir("typhoon-unpack-commit-");
  bundle = path.join(work, "bundle");
  fs.writeFileSync(bundle, BUNDLE);
  oldTarget = path.join(work, "old");
  fs.mkdirSync(path.join(oldTarget, "sub"), { recursive: true, mode: 0o755 });
  fs.writeFileSync(path.join(oldTarget, "a"), "old a\n", { mode: 0o644 });
  fs.writeFileSync(path.join(oldTarget, "sub/b"), "old b\n", { mode: 0o640 });
  fs.writeFileSync(path.join(oldTarget, "keep"), "keep\n");
  oldTree = snapshotTree(oldTarget);
  const reference = copyTree(oldTarget);
  const run = recorded("unpack", await execa(AGENT, ["unpack", bundle, "-C", reference], { reject: false }));
  if (run.exitCode !== 0) throw new Error(`unpack failed: ${run.stderr}`);
  newFiles = readFiles(reference);
});

describe("a failure during the commit leaves DIR exactly as it was", () => {
  // [title, the injection swept over N, injections that hold for every call]
  const sweeps: Array<[string, string, string, string[]]> = [
    ["EIO on each rename", RENAME, "EIO", []],
    ["ENOSPC on each mkdir", MKDIR, "ENOSPC", []],
    ["EIO on each rename, hard links refused", RENAME, "EIO", [`inject=${LINK}:error=EPERM`]],
  ];
  for (const [title, syscalls, errno, always] of sweeps) {
    faultTest(title, async () => {
      const calls = countCalls(syscalls, always);
      expect(calls, `no ${syscalls} calls seen`).toBeGreaterThan(3);
      const outcomes: string[] = [];
      for (let n = 1; n <= calls; n++) {
        const target = copyTree(oldTarget);
        const run = await traced([...always, `inject=${syscalls}:error=${errno}:when=${n}`], target);
        outcomes.push(`${n}:${run.exitCode}`);
        if (run.exitCode === 0) {
          expect(readFiles(target), `call ${n}`).toEqual(newFiles);
        } else {
          expect(run.exitCode, `call ${n}: ${run.stderr}`).toBe(74);
          expect(snapshotTree(target), `call ${n}: ${run.stderr}`).toEqual(oldTree);
        }
      }
      console.log(`${title}: exit codes per call ${outcomes.join(" ")}`);
      expect(outcomes.filter((outcome) => outcome.endsWith(":74")).length).toBeGreaterThan(1);
    }, 60_000);
  }

  faultTest("a refused hard link falls back to moving the old file aside", async () => {
    const target = copyTree(oldTarget);
    const run = await traced([`inject=${LINK}:error=EPERM`], target);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(readFiles(target)).toEqual(newFiles);
  });

  faultTest("ENOSPC on each mkdir under -C N/x/y: every directory the command made is gone", async () => {
    const calls = countCalls(MKDIR, [], "fresh/x/y");
    for (let n = 1; n < calls; n++) {
      const scratch = path.join(work, `fresh-${n}`);
      fs.mkdirSync(scratch);
      const run = await traced([`inject=${MKDIR}:error=ENOSPC:when=${n}`], path.join(scratch, "N/x/y"));
      expect(run.exitCode, `call ${n}`).toBe(74);
      expect(fs.readdirSync(scratch), `call ${n}`).toEqual([]);
    }
  }, 60_000);
});

describe("a failure of the undo itself", () => {
  faultTest("keeps the old files, and says where, with the exit code of the first failure", async () => {
    const renames = countCalls(RENAME, []);
    const target = copyTree(oldTarget);
    // Every rename from the last move into place on fails, so do the undo's renames back.
    const run = await traced([`inject=${RENAME}:error=EIO:when=${renames}+`], target);
    expect(run.exitCode).toBe(74);
    expect(run.stderr).toContain("undoing the unpack failed too");
    const kept = /the old files are kept in (\S+):/.exec(run.stderr)?.[1];
    expect(kept, run.stderr).toBeDefined();
    const keptContents = fs.readdirSync(kept!).map((name) => fs.readFileSync(path.join(kept!, name), "utf8"));
    expect(keptContents.sort()).toEqual(["old a\n", "old b\n"]);
  });
});

async function traced(injections: readonly string[], target: string) {
  const options = injections.flatMap((injection) => ["-e", injection]);
  return recorded(`unpack under strace ${injections.join(" ")}`, await execa("strace", ["-f", "-qq", "-o", "/dev/null", ...options, AGENT, "unpack", bundle, "-C", target], { reject: false }));
}

/** How many of `syscalls` a clean unpack into a copy of the old tree (or a new `fresh` path) makes. */
function countCalls(syscalls: string, always: readonly string[], fresh?: string): number {
  const target = fresh === undefined ? copyTree(oldTarget) : path.join(work, "count-fresh", fresh);
  const log = path.join(work, "count.log");
  const options = always.flatMap((injection) => ["-e", injection]);
  execSync(
    ["strace", "-f", "-qq", "-o", log, ...options, AGENT, "unpack", bundle, "-C", target].map(quote).join(" "),
    { stdio: "ignore" },
  );
  fs.rmSync(fresh === undefined ? target : path.join(work, "count-fresh"), { recursive: true, force: true });
  // Everything is traced (a `trace=` filter would also stop the `always` injections).
  const names = new Set(syscalls.split(","));
  return fs.readFileSync(log, "utf8").split("\n").filter((line) => names.has(/^\d+\s+(\w+)\(/.exec(line)?.[1] ?? "")).length;
}

function copyTree(from: string): string {
  const to = path.join(work, `tree-${++copies}`);
  execSync(`cp -a ${quote(from)} ${quote(to)}`);
  return to;
}

function quote(word: string): string {
  return `'${word.replaceAll("'", "'\\''")}'`;
}

function straceWorks(): boolean {
  try {
    execSync("strace -f -qq -o /dev/null -e inject=getpid:error=EIO true", { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
