// One apply at a time. The lock is flock(2) on a file in the state directory, held by an
// open file description of this process, so the kernel releases it when the process ends
// however it ends (kill -9 included): no stale lock files. Node has no flock(); util-linux
// flock(1) takes the lock on our descriptor, which it inherits, and exits.

import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { AgentError, ExitCode, attempt } from "../errors.ts";

const TIMED_OUT = 1;

export interface HeldLock {
  release(): void;
}

export function acquireLock(lockFile: string, waitSeconds: number): HeldLock {
  const fd = attempt("open lock file", lockFile, () => fs.openSync(lockFile, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW, 0o600));
  const result = spawnSync("flock", ["--exclusive", "--wait", String(waitSeconds), "3"], { stdio: ["ignore", "ignore", "pipe", fd], encoding: "utf8" });
  if (result.status !== 0) {
    fs.closeSync(fd);
    if ((result.error as NodeJS.ErrnoException | undefined)?.code === "ENOENT") {
      throw new AgentError(ExitCode.ioError, "flock(1) is not installed (util-linux); it is needed to lock out concurrent applies");
    }
    // flock(1) exits 1 when --wait runs out; anything else is a failure of its own.
    if (result.status !== TIMED_OUT) {
      throw new AgentError(ExitCode.ioError, `locking ${lockFile} failed: ${(result.stderr || String(result.error ?? result.signal)).trim()}`);
    }
    throw new AgentError(
      ExitCode.busy,
      `another typhoon-agent apply holds ${lockFile}; gave up after ${waitSeconds} s`,
      "wait for it to finish (journalctl -u typhoon-agent) and retry",
    );
  }
  return { release: () => fs.closeSync(fd) };
}
