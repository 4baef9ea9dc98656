// One apply at a time. The lock is flock(2) on a file in the state directory, held by an
// open file description of this process, so the kernel releases it when the process ends
// however it ends (kill -9 included): no stale lock files. Node has no flock(); libc's is
// called through bun:ffi (fsio/libc.ts), and where libc cannot be opened, util-linux
// flock(1) takes the lock on our descriptor, which it inherits, and exits.

import * as fs from "node:fs";
import { AgentError, ExitCode, attempt } from "../errors.ts";
import { EWOULDBLOCK, LOCK_EX, LOCK_NB, describeFailure, libc, spawnFallback, type Libc } from "../fsio/libc.ts";

/** How often a waiting apply tries again: flock(2) cannot wait with a deadline. */
const RETRY_MILLISECONDS = 10;

export interface HeldLock {
  release(): void;
}

/** Takes the lock, waiting up to `waitSeconds` for another holder; `calls` null: through flock(1). */
export function acquireLock(lockFile: string, waitSeconds: number, calls: Libc | null = libc()): HeldLock {
  const fd = attempt("open lock file", lockFile, () => fs.openSync(lockFile, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW, 0o600));
  try {
    const locked = calls === null ? lockWithCommand(fd, lockFile, waitSeconds) : lockWithLibc(calls, fd, lockFile, waitSeconds);
    if (!locked) {
      throw new AgentError(
        ExitCode.busy,
        `another typhoon-agent apply holds ${lockFile}; gave up after ${waitSeconds} s`,
        "wait for it to finish (journalctl -u typhoon-agent) and retry",
      );
    }
  } catch (error) {
    fs.closeSync(fd);
    throw error;
  }
  return { release: () => fs.closeSync(fd) };
}

const pause = new Int32Array(new SharedArrayBuffer(4));

/** false when the wait ran out. */
function lockWithLibc(calls: Libc, fd: number, lockFile: string, waitSeconds: number): boolean {
  const deadline = performance.now() + waitSeconds * 1000;
  for (;;) {
    const errno = calls.flock(fd, LOCK_EX | LOCK_NB);
    if (errno === 0) return true;
    if (errno !== EWOULDBLOCK) throw new AgentError(ExitCode.ioError, `cannot lock ${lockFile}: ${describeFailure("flock", errno)}`, undefined, lockFile);
    const left = deadline - performance.now();
    if (left <= 0) return false;
    Atomics.wait(pause, 0, 0, Math.min(RETRY_MILLISECONDS, left));
  }
}

/** false when the wait ran out. */
function lockWithCommand(fd: number, lockFile: string, waitSeconds: number): boolean {
  const result = spawnFallback("flock", ["--exclusive", "--wait", String(waitSeconds), "3"], { stdio: ["ignore", "ignore", "pipe", fd], encoding: "utf8" });
  if (result.status === 0) return true;
  if ((result.error as NodeJS.ErrnoException | undefined)?.code === "ENOENT") {
    throw new AgentError(ExitCode.ioError, "flock(1) is not installed (util-linux); without libc it is needed to lock out concurrent applies");
  }
  // flock(1) exits 1 when --wait runs out; anything else is a failure of its own.
  if (result.status !== 1) throw new AgentError(ExitCode.ioError, `locking ${lockFile} failed: ${(result.stderr || String(result.error ?? result.signal)).trim()}`);
  return false;
}
