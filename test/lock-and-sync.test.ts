// The apply lock and the flush to disk go through libc (flock(2), syncfs(2) via bun:ffi),
// with flock(1) and sync(1) as the fallbacks where libc cannot be opened. Both ways are
// checked against the real programs: a lock util-linux's flock(1) sees, a syncfs(2) that
// strace sees the kernel get. A call libc refuses (injected with strace) is an error that
// names it and its errno, and an apply under --root runs no program but itself.

import * as fs from "node:fs";
import * as path from "node:path";
import { execa } from "execa";
import { describe, expect, test } from "vitest";
import { libc, type Libc } from "../agent/fsio/libc.ts";
import { acquireLock } from "../agent/apply/lock.ts";
import { AgentError } from "../agent/errors.ts";
import { AGENT, REPO } from "./helpers/agent-binary.ts";
import { makeHost, writeSampleBundle } from "./helpers/host.ts";
import { tempDir } from "./helpers/tree.ts";

const hasStrace = fs.existsSync("/usr/bin/strace");
const asRoot = process.getuid?.() === 0;
if (!hasStrace || !asRoot) console.log("lock-and-sync: the strace and apply tests need root and strace; skipped");
const straceTest = hasStrace ? test : test.skip;
const rootStraceTest = hasStrace && asRoot ? test : test.skip;

const WAYS: Array<[string, () => Libc | null]> = [
  ["through libc", libc],
  ["through flock(1) and sync(1), without libc", () => null],
];

/** true while some process holds `file` locked, as flock(1) finds it. */
async function lockedByOther(file: string): Promise<boolean> {
  return (await execa("flock", ["--nonblock", file, "true"], { reject: false })).exitCode === 1;
}

/** Runs `use` while a flock(1) holds `file` (for `seconds` at most). */
async function whileHeld(file: string, use: () => Promise<void>, seconds = 60): Promise<void> {
  // --no-fork: flock(1) itself runs sleep, so no child keeps the lock after the kill.
  const child = execa("flock", ["--exclusive", "--no-fork", file, "sleep", String(seconds)], { stdio: "ignore", reject: false });
  try {
    while (!(await lockedByOther(file))) await new Promise((resolve) => setTimeout(resolve, 20));
    await use();
  } finally {
    child.kill();
    await child;
  }
}

describe("the apply lock", () => {
  for (const [way, calls] of WAYS) {
    test(`${way}: held, flock(1) cannot take it; released, it can`, async () => {
      const file = path.join(tempDir(), "lock");
      const lock = await acquireLock(file, 0, calls());
      expect(await lockedByOther(file)).toBe(true);
      lock.release();
      expect(await lockedByOther(file)).toBe(false);
    });

    test(`${way}: a lock another process holds is busy (exit 75) once the wait runs out`, async () => {
      const file = path.join(tempDir(), "lock");
      await whileHeld(file, async () => {
        await expect(acquireLock(file, 0.2, calls())).rejects.toThrow(AgentError);
        await expect(acquireLock(file, 0, calls())).rejects.toMatchObject({ exitCode: 75, message: expect.stringContaining("another typhoon-agent apply holds") });
      });
      (await acquireLock(file, 0, calls())).release();
    });

    test(`${way}: a holder that lets go within the wait hands the lock over`, async () => {
      const file = path.join(tempDir(), "lock");
      await whileHeld(file, async () => (await acquireLock(file, 30, calls())).release(), 1);
    });
  }
});

describe("the flush to disk", () => {
  for (const [way, mode] of [
    ["through libc: syncfs(2) by the agent's own process", "libc"],
    ["without libc: sync(1) makes the syncfs(2) call", "fallback"],
  ] as const) {
    straceTest(way, async () => {
      const directory = tempDir();
      const trace = path.join(tempDir(), "trace");
      const program = `
        import { syncFilesystems } from ${JSON.stringify(path.join(REPO, "agent/fsio/durability.ts"))};
        syncFilesystems([${JSON.stringify(directory)}], ${mode === "libc" ? "undefined" : "null"});`;
      const run = await execa("strace", ["-f", "-qq", "-e", "trace=execve,syncfs", "-o", trace, process.execPath, "-e", program], { reject: false });
      expect(run.exitCode, run.stderr).toBe(0);
      const calls = fs.readFileSync(trace, "utf8").split("\n").filter((line) => / (execve|syncfs)\(/.test(line));
      const pid = (line: string): string => line.split(" ")[0]!;
      const programs = calls.filter((line) => line.includes("execve(")).map((line) => /execve\("([^"]+)"/.exec(line)![1]);
      const syncfs = calls.filter((line) => line.includes("syncfs(") && /\)\s+= 0$/.test(line));
      expect(syncfs).toHaveLength(1);
      if (mode === "libc") {
        expect(programs).toEqual([process.execPath]);
        expect(pid(syncfs[0]!)).toBe(pid(calls[0]!));
      } else {
        expect(programs).toEqual([process.execPath, "/usr/bin/sync"]);
        expect(pid(syncfs[0]!)).not.toBe(pid(calls[0]!));
      }
    });
  }
});

describe("an apply", () => {
  async function bundleAndRoot(): Promise<{ root: string; bundle: string }> {
    const root = makeHost();
    const bundle = path.join(tempDir(), "assets");
    await writeSampleBundle(bundle);
    return { root, bundle };
  }

  const apply = (root: string, bundle: string): string[] => [AGENT, "apply", bundle, "--root", root, "--no-start", "--keep-bundle"];
  const env = { TYPHOON_AGENT_JOURNAL: "stderr" };

  rootStraceTest("runs no program but itself: lock and flush are calls, not processes", async () => {
    const { root, bundle } = await bundleAndRoot();
    const trace = path.join(tempDir(), "trace");
    const run = await execa("strace", ["-f", "-qq", "-e", "trace=execve,execveat,flock,syncfs", "-o", trace, ...apply(root, bundle)], { reject: false, env });
    expect(run.exitCode, run.stderr).toBe(0);
    const lines = fs.readFileSync(trace, "utf8").split("\n");
    expect(lines.filter((line) => /execve(at)?\(/.test(line)).map((line) => /execve(?:at)?\("([^"]+)"/.exec(line)?.[1])).toEqual([AGENT]);
    expect(lines.filter((line) => /flock\(\d+, LOCK_EX\|LOCK_NB\)\s+= 0/.test(line))).toHaveLength(1);
    expect(lines.filter((line) => /syncfs\(\d+\)\s+= 0/.test(line)).length).toBeGreaterThan(0);
  });

  for (const [call, errno, number, exitCode, outcome] of [
    ["flock", "ENOLCK", 37, 74, /^typhoon-agent: cannot lock .*\/var\/lib\/typhoon-agent\/lock: flock\(2\) failed: ENOLCK \(no locks available; errno 37\)\ntyphoon-agent: hint: .*lockd/m],
    ["syncfs", "EIO", 5, 1, /^typhoon-agent: apply failed and was rolled back: flushing the filesystem of .* to disk failed: syncfs\(2\) failed: EIO \(input\/output error; errno 5\)\ntyphoon-agent: hint: .*dmesg/m],
  ] as const) {
    rootStraceTest(`whose ${call}(2) libc refuses with ${errno} fails naming the call and errno ${number}, with nothing installed`, async () => {
      const { root, bundle } = await bundleAndRoot();
      const run = await execa("strace", ["-f", "-qq", "-o", "/dev/null", "-e", `trace=${call}`, "-e", `inject=${call}:error=${errno}:when=1`, ...apply(root, bundle)], {
        reject: false,
        env,
      });
      expect(run.exitCode, run.stderr).toBe(exitCode);
      expect(run.stderr).toMatch(outcome);
      expect(fs.existsSync(path.join(root, "etc/kubernetes"))).toBe(false);
    });
  }
});
