// Making writes survive a power cut, cheaply. fsync per file costs a journal commit each
// (measured here: 46 files, 15-32 ms, as long as the whole upstream script); one syncfs(2)
// per filesystem flushes them all at once. Node has no syncfs: libc's is called through
// bun:ffi (./libc.ts), and where libc cannot be opened, coreutils' `sync --file-system`
// makes the call. Without either nothing would make the files' contents durable (an fsync
// of the directories covers their entries only), so that is an error.

import * as fs from "node:fs";
import { AgentError, ExitCode, fromSystemError } from "../errors.ts";
import { describeFailure, libc, spawnFallback, type Libc } from "./libc.ts";
import { withReadOnlyFile } from "./read-only.ts";
import { interruptedBy } from "../transaction/guard.ts";

/** Flushes the filesystems holding `paths` (files or directories); `calls` null: through sync(1). */
export function syncFilesystems(paths: readonly string[], calls: Libc | null = libc()): void {
  const onePerDevice = new Map<number, string>();
  for (const file of paths) {
    try {
      const device = fs.lstatSync(file).dev;
      if (!onePerDevice.has(device)) onePerDevice.set(device, file);
    } catch (error) {
      throw fromSystemError(error, "inspect", file);
    }
  }
  if (onePerDevice.size === 0) return;
  if (calls === null) {
    syncWithCommand([...onePerDevice.values()]);
    return;
  }
  for (const file of onePerDevice.values()) {
    withReadOnlyFile(file, (fd) => {
      const errno = calls.syncfs(fd);
      if (errno === 0) return;
      const failure = describeFailure("syncfs", errno);
      throw new AgentError(ExitCode.ioError, `flushing the filesystem of ${file} to disk failed: ${failure.text}`, failure.hint ?? "check the disk (dmesg)", file);
    });
  }
}

function syncWithCommand(files: readonly string[]): void {
  const result = spawnFallback("sync", ["--file-system", ...files], { stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
  if ((result.error as NodeJS.ErrnoException | undefined)?.code === "ENOENT") {
    throw new AgentError(ExitCode.ioError, "cannot flush to disk: libc's syncfs(2) is unavailable and sync(1) (coreutils) is not installed");
  }
  // sync(1) killed by a signal was interrupted with us (a Ctrl-C reaches the process group).
  if (result.signal !== null) throw interruptedBy(result.signal);
  if (result.status !== 0) {
    throw new AgentError(ExitCode.ioError, `flushing to disk failed: ${(result.stderr || String(result.error)).trim()}`);
  }
}

/** fsync(2) of one file or directory (a directory's fsync makes its renames durable). */
export function fsyncPath(file: string): void {
  withReadOnlyFile(file, (fd) => {
    try {
      fs.fsyncSync(fd);
    } catch (error) {
      throw fromSystemError(error, "fsync", file);
    }
  });
}
