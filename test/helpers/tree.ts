// Temporary directories and whole-tree snapshots: what a test compares before and after.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { TEXTFILE_COLLECTOR_DIRECTORY } from "../../agent/paths.ts";

const made: string[] = [];

/** A fresh directory in the system's temp dir; test/setup.ts removes them all after the run. */
export function tempDir(prefix = "typhoon-test-"): string {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(directory);
  return directory;
}

/** The directories tempDir made and removeTempDirs has not removed yet. */
export function tempDirs(): readonly string[] {
  return made;
}

export function removeTempDirs(): void {
  for (const directory of made.splice(0)) {
    try {
      fs.rmSync(directory, { recursive: true, force: true });
    } catch {
      // still mounted or busy: left for the system's tmp cleaning
    }
  }
}

export interface TreeEntry {
  type: "file" | "directory" | "symlink" | "special";
  mode: number;
  uid: number;
  gid: number;
  content?: string;
  target?: string;
}

/** Every entry below `root` (relative path → type, mode, owner, content as hex). */
export function snapshotTree(root: string): Map<string, TreeEntry> {
  const entries = new Map<string, TreeEntry>();
  const walk = (relative: string): void => {
    for (const name of fs.readdirSync(path.join(root, relative)).sort()) {
      const child = relative === "" ? name : `${relative}/${name}`;
      const absolute = path.join(root, child);
      const stat = fs.lstatSync(absolute);
      const base = { mode: stat.mode & 0o7777, uid: stat.uid, gid: stat.gid };
      if (stat.isSymbolicLink()) {
        entries.set(child, { type: "symlink", ...base, target: fs.readlinkSync(absolute) });
      } else if (stat.isDirectory()) {
        entries.set(child, { type: "directory", ...base });
        walk(child);
      } else if (stat.isFile()) {
        entries.set(child, { type: "file", ...base, content: fs.readFileSync(absolute).toString("hex") });
      } else {
        // A FIFO, a socket or a device: reading one could block forever.
        entries.set(child, { type: "special", ...base });
      }
    }
  };
  if (fs.existsSync(root)) walk("");
  return entries;
}

/** Files only, relative path → bytes. */
export function readFiles(root: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const [name, entry] of snapshotTree(root)) {
    if (entry.type === "file") files.set(name, Buffer.from(entry.content!, "hex"));
  }
  return files;
}

const METRICS_DIRECTORY = TEXTFILE_COLLECTOR_DIRECTORY.slice(1);
const RUN_RECORD = [
  "var",
  "var/lib",
  "var/lib/typhoon-agent",
  "var/lib/typhoon-agent/lock",
  "var/lib/typhoon-agent/result.json",
  path.dirname(METRICS_DIRECTORY),
  METRICS_DIRECTORY,
  `${METRICS_DIRECTORY}/typhoon_agent_apply.prom`,
];

/**
 * The tree as an apply that refused its input must leave it: only its own run record (the
 * state directory, result.json, the lock file, and its metrics for node-exporter) may have
 * appeared, and result.json and the metrics, which every apply rewrites, may have changed.
 */
export function snapshotIgnoringRunRecord(root: string, before: ReadonlyMap<string, TreeEntry>): Map<string, TreeEntry> {
  const after = snapshotTree(root);
  for (const name of RUN_RECORD) {
    const earlier = before.get(name);
    if (earlier === undefined) after.delete(name);
    else if ((name.endsWith(".json") || name.endsWith(".prom")) && after.has(name)) after.set(name, earlier);
  }
  return after;
}

/**
 * What apply and rollback manage, as a run that fails must leave it and one that succeeds
 * must make it: everything but the run's own records (result.json, the lock, the metrics for
 * node-exporter), the uploaded bundle under /home, and (unless `backups` is "compare") the backups.
 */
export function managedTree(root: string, backups: "ignore" | "compare" = "ignore"): Map<string, TreeEntry> {
  const tree = snapshotTree(root);
  const runRecord = new RegExp(`^var/lib/typhoon-agent/(result\\.json|lock)$|^${path.dirname(METRICS_DIRECTORY)}(/|$)|^home/`);
  for (const name of tree.keys()) {
    if (runRecord.test(name) || (backups === "ignore" && /^var\/lib\/typhoon-agent\/backups(\/|$)/.test(name))) tree.delete(name);
  }
  return tree;
}
