// What rollback may touch: only what the agent put there. The last apply left a regular file
// at every file path its backup restores or its manifest says it created, and a directory at
// every directory path; anything else found there now (a directory with someone's data where
// the agent wrote a key, a FIFO, a device, a socket, any symlink: the agent writes none) was
// put there since, by someone else, and rollback refuses before it changes anything.

import { AgentError, ExitCode } from "../errors.ts";
import { kindOf, statIfExists } from "../fsio/read-only.ts";
import type { HostPath, HostRoot } from "../hostfs/host-root.ts";
import type { Backup } from "./backup.ts";
import { shellWords } from "../shell-word.ts";

type Installed = "regular file" | "directory";

interface Touched {
  path: HostPath;
  installed: Installed;
  action: "restore" | "remove";
}

/** Throws (exit 73, nothing changed) when a path the rollback of `backup` would restore or remove holds something the agent did not install there. */
export function refuseForeignObjects(host: HostRoot, backup: Backup): void {
  const foreign: Array<Touched & { found: string }> = [];
  for (const touched of touchedPaths(backup)) {
    // Below a foreign object nothing is the agent's either, and its path cannot be resolved.
    if (foreign.some((outer) => touched.path.startsWith(`${outer.path}/`))) continue;
    const found = kindOf(statIfExists(host.file(touched.path)));
    if (found !== undefined && found !== touched.installed) foreign.push({ ...touched, found });
  }
  if (foreign.length === 0) return;
  const what = foreign.map((entry) => `rollback would ${entry.action} ${entry.path}, but it is a ${entry.found}, not the ${entry.installed} the agent installed there`);
  const moves = foreign.map((entry) => {
    const real = host.file(entry.path);
    return `mv -- ${shellWords(real, `${real}.moved-aside`)}`;
  });
  throw new AgentError(
    ExitCode.cannotCreate,
    `${what.join("; ")}; rollback never removes or replaces what the agent did not put there, and nothing was changed`,
    `move ${foreign.length === 1 ? "it" : "them"} out of the way, then run typhoon-agent rollback again: ${moves.join("; ")}`,
    foreign[0]!.path,
  );
}

/** Every path the rollback restores or removes, parents before their children. */
function touchedPaths(backup: Backup): Touched[] {
  const installed = (type: "file" | "directory"): Installed => (type === "file" ? "regular file" : "directory");
  return [
    ...backup.entries.map((entry): Touched => ({ path: entry.path, installed: installed(entry.type), action: "restore" })),
    ...backup.manifest.createdFiles.map((path): Touched => ({ path, installed: "regular file", action: "remove" })),
    ...backup.manifest.createdDirectories.map((path): Touched => ({ path, installed: "directory", action: "remove" })),
  ].sort((a, b) => a.path.length - b.path.length);
}

