// Making writes survive a power cut, cheaply. fsync per file costs a journal commit each
// (measured here: 46 files, 15-32 ms, as long as the whole upstream script); one syncfs(2)
// per filesystem flushes them all at once. Node has no syncfs, so coreutils' `sync -f`
// (`--file-system`) makes the call; without it, every file is fsynced on its own. A plain
// spawnSync costs ~1.5 ms here; importing execa alone costs more, so execa is kept for
// systemctl, where its error reporting earns its price.

import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { AgentError, ExitCode, fromSystemError } from "../errors.ts";
import { withReadOnlyFile } from "./read-only.ts";

/** Flushes the filesystems holding `paths` (files or directories). */
export function syncFilesystems(paths: readonly string[]): void {
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
  const result = spawnSync("sync", ["--file-system", ...onePerDevice.values()], { stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
  if ((result.error as NodeJS.ErrnoException | undefined)?.code === "ENOENT") {
    for (const file of paths) fsyncPath(file);
    return;
  }
  if (result.status !== 0) {
    throw new AgentError(ExitCode.ioError, `flushing to disk failed: ${(result.stderr || String(result.error ?? result.signal)).trim()}`);
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
