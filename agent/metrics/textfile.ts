// Writes one textfile collector file below --root so that node-exporter, which reads the
// directory at every scrape, only ever sees a whole file: the content goes to a hidden
// temporary file in the same directory (node-exporter reads only *.prom), is flushed, and is
// renamed over the old file. The flush keeps a power cut from leaving an empty file that
// would hide every series until the next run; the rename itself is not flushed, since losing
// it only leaves the previous run's complete file.

import * as fs from "node:fs";
import { fromSystemError } from "../errors.ts";
import { abandonedBy } from "../fsio/abandoned.ts";
import { CREATE_NEW, writeAll } from "../fsio/write-all.ts";
import { realChild, realParent, type HostPath, type HostRoot, type RealPath } from "../hostfs/host-root.ts";

/** node-exporter runs as nobody: the files and the directories made for them are world-readable. */
const TEXTFILE_MODE = 0o644;
export const TEXTFILE_DIRECTORY_MODE = 0o755;

/** Writes `text` as `name` in the host directory `directory`; returns the host path written. */
export function writeTextfile(host: HostRoot, directory: HostPath, name: string, text: string): HostPath {
  // The path layer follows links on the way inside the root (none below a managed directory).
  const real = host.directory(directory);
  const target = realChild(real, name);
  const temporary = realChild(real, `.${name}.${process.pid}.tmp`);
  let fd: number | undefined;
  try {
    createDirectories(real);
    removeStaleTemporaries(real, name);
    fd = fs.openSync(temporary, CREATE_NEW, TEXTFILE_MODE);
    fs.fchmodSync(fd, TEXTFILE_MODE); // whatever the umask took away
    writeAll(fd, Buffer.from(text, "utf8"));
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(temporary, target);
  } catch (error) {
    if (fd !== undefined) fs.closeSync(fd);
    try {
      fs.rmSync(temporary, { force: true });
    } catch {
      // Not made (EROFS, ENOSPC before the open), or left for the next run to remove: the write's error is the one to report.
    }
    throw fromSystemError(error, "write", host.display(target));
  }
  return host.display(target);
}

/** The missing directories down to `real`, each 0755 whatever the umask; existing ones are left as they are. */
function createDirectories(real: RealPath): void {
  const missing: RealPath[] = [];
  for (let directory = real; fs.lstatSync(directory, { throwIfNoEntry: false }) === undefined; directory = realParent(directory)) missing.unshift(directory);
  for (const directory of missing) {
    try {
      fs.mkdirSync(directory, { mode: TEXTFILE_DIRECTORY_MODE });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") continue; // made by a run beside this one
      throw error;
    }
    fs.chmodSync(directory, TEXTFILE_DIRECTORY_MODE);
  }
}

/** Temporary files of runs that died before their rename (a process that no longer exists). */
function removeStaleTemporaries(real: RealPath, name: string): void {
  const prefix = `.${name}.`;
  for (const entry of fs.readdirSync(real)) {
    if (!entry.startsWith(prefix) || !entry.endsWith(".tmp")) continue;
    const pid = Number(entry.slice(prefix.length, -".tmp".length));
    if (Number.isInteger(pid) && pid > 0 && abandonedBy(pid)) fs.rmSync(realChild(real, entry), { force: true });
  }
}
