// One apply at a time. The lock is flock(2) on a file in the state directory, held by an
// open file description of this process, so the kernel releases it when the process ends
// however it ends (kill -9 included): no stale lock files. Node has no flock(); libc's is
// called through bun:ffi (fsio/libc.ts), and where libc cannot be opened, util-linux
// flock(1) takes the lock on our descriptor, which it inherits, and exits. Either is asked
// not to block, and asked again while the wait lasts, so the wait stays interruptible.

import * as fs from "node:fs";
import { AgentError, ExitCode, attempt } from "../errors.ts";
import { EWOULDBLOCK, LOCK_EX, LOCK_NB, describeFailure, libc, spawnFallback, type Libc } from "../fsio/libc.ts";
import { interruptedBy, pause } from "../transaction/guard.ts";

/** How often a waiting apply tries again: flock(2) cannot wait with a deadline. */
const RETRY_MILLISECONDS = 10;

export interface HeldLock {
  release(): void;
}

/**
 * Takes the lock, waiting up to `waitSeconds` for another holder (then exit 75); `calls` null:
 * through flock(1). A caught signal ends the wait: nobody is kept waiting on a lock after Ctrl-C.
 */
export async function acquireLock(lockFile: string, waitSeconds: number, calls: Libc | null = libc()): Promise<HeldLock> {
  const fd = attempt("open lock file", lockFile, () => fs.openSync(lockFile, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW, 0o600));
  const deadline = performance.now() + waitSeconds * 1000;
  try {
    while (!(calls === null ? tryWithCommand(fd, lockFile) : tryWithLibc(calls, fd, lockFile))) {
      const left = deadline - performance.now();
      if (left <= 0) {
        throw new AgentError(
          ExitCode.busy,
          `another typhoon-agent apply holds ${lockFile}; gave up after ${waitSeconds} s`,
          "wait for it to finish (journalctl -u typhoon-agent) and retry",
        );
      }
      await pause(Math.min(RETRY_MILLISECONDS, left));
    }
  } catch (error) {
    fs.closeSync(fd);
    throw error;
  }
  return { release: () => fs.closeSync(fd) };
}

/** One try: true when the lock is ours now, false when another process holds it. */
function tryWithLibc(calls: Libc, fd: number, lockFile: string): boolean {
  const errno = calls.flock(fd, LOCK_EX | LOCK_NB);
  if (errno === 0) return true;
  if (errno === EWOULDBLOCK) return false;
  const failure = describeFailure("flock", errno);
  throw new AgentError(ExitCode.ioError, `cannot lock ${lockFile}: ${failure.text}`, failure.hint, lockFile);
}

/** One try through flock(1). */
function tryWithCommand(fd: number, lockFile: string): boolean {
  const result = spawnFallback("flock", ["--exclusive", "--nonblock", "3"], { stdio: ["ignore", "ignore", "pipe", fd], encoding: "utf8" });
  if (result.status === 0) return true;
  // A Ctrl-C reaches the whole process group, flock(1) included: the operator interrupted.
  if (result.signal !== null) throw interruptedBy(result.signal);
  if ((result.error as NodeJS.ErrnoException | undefined)?.code === "ENOENT") {
    throw new AgentError(ExitCode.ioError, "flock(1) is not installed (util-linux); without libc it is needed to lock out concurrent applies");
  }
  // flock(1) exits 1 when the lock is held elsewhere; anything else is a failure of its own.
  if (result.status === 1) return false;
  throw new AgentError(ExitCode.ioError, `locking ${lockFile} failed: ${(result.stderr || String(result.error ?? result.signal)).trim()}`);
}
