// One apply at a time. The lock is flock(2) on a file in the state directory, held by an
// open file description of this process, so the kernel releases it when the process ends
// however it ends (kill -9 included): no stale lock files. Node has no flock(); util-linux
// flock(1) takes the lock on our descriptor, which it inherits, and exits. It is asked not to
// block, and asked again while the wait lasts, so the wait stays interruptible.

import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { AgentError, ExitCode, attempt } from "../errors.ts";
import { interruptedBy, pause } from "../transaction/guard.ts";

const HELD_ELSEWHERE = 1;
const POLL_MS = 100;

export interface HeldLock {
  release(): void;
}

/**
 * Takes the lock, trying again every POLL_MS for `waitSeconds` (then exit 75). A caught
 * signal ends the wait (interruptedBy): nobody is kept waiting on a lock after Ctrl-C.
 */
export async function acquireLock(lockFile: string, waitSeconds: number): Promise<HeldLock> {
  const fd = attempt("open lock file", lockFile, () => fs.openSync(lockFile, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW, 0o600));
  const deadline = performance.now() + waitSeconds * 1000;
  try {
    while (!tryLock(fd, lockFile)) {
      if (performance.now() >= deadline) {
        throw new AgentError(
          ExitCode.busy,
          `another typhoon-agent apply holds ${lockFile}; gave up after ${waitSeconds} s`,
          "wait for it to finish (journalctl -u typhoon-agent) and retry",
        );
      }
      await pause(Math.min(POLL_MS, Math.max(0, deadline - performance.now())));
    }
  } catch (error) {
    fs.closeSync(fd);
    throw error;
  }
  return { release: () => fs.closeSync(fd) };
}

/** One try: true when the lock is ours now, false when another process holds it. */
function tryLock(fd: number, lockFile: string): boolean {
  const result = spawnSync("flock", ["--exclusive", "--nonblock", "3"], { stdio: ["ignore", "ignore", "pipe", fd], encoding: "utf8" });
  if (result.status === 0) return true;
  // A Ctrl-C reaches the whole process group, flock(1) included: the operator interrupted.
  if (result.signal !== null) throw interruptedBy(result.signal);
  if ((result.error as NodeJS.ErrnoException | undefined)?.code === "ENOENT") {
    throw new AgentError(ExitCode.ioError, "flock(1) is not installed (util-linux); it is needed to lock out concurrent applies");
  }
  // flock(1) exits 1 when the lock is held elsewhere; anything else is a failure of its own.
  if (result.status === HELD_ELSEWHERE) return false;
  throw new AgentError(ExitCode.ioError, `locking ${lockFile} failed: ${(result.stderr || String(result.error ?? result.signal)).trim()}`);
}
