// A bundle still being uploaded. typhoon-agent.path fires when Terraform's file provisioner
// creates /home/core/assets, not when it has finished writing it, and a bundle cut short on a
// line boundary can parse. So before reading, apply waits while any process holds the file
// open for writing, found in /proc as fuser(1) finds it (Node has no fcntl leases). A file
// nobody has written for a minute is not scanned: an upload in progress keeps it fresh.

import * as fs from "node:fs";
import { AgentError, ExitCode, attempt, fromSystemError } from "../errors.ts";
import { pause } from "../transaction/guard.ts";

const RECENT_MS = 60_000;
const POLL_MS = 100;
const O_ACCMODE = 0o3; // O_WRONLY 1, O_RDWR 2

interface Writer {
  pid: number;
  command: string;
}

/** Waits until nobody writes `file`; returns how long it waited and for whom. Exit 75 after `waitSeconds`; a caught signal ends it. */
export async function waitForWriters(file: string, waitSeconds: number): Promise<{ waitedMs: number; writers: Writer[] }> {
  const target = attempt("inspect bundle", file, () => fs.statSync(file, { throwIfNoEntry: false }));
  if (target === undefined || !target.isFile() || Date.now() - target.mtimeMs > RECENT_MS) return { waitedMs: 0, writers: [] };
  const started = performance.now();
  let seen: Writer[] = [];
  for (;;) {
    const writers = writersOf(target);
    if (writers.length === 0) return { waitedMs: Math.round(performance.now() - started), writers: seen };
    seen = writers;
    if (performance.now() - started >= waitSeconds * 1000) {
      throw new AgentError(
        ExitCode.busy,
        `the bundle ${file} is still open for writing by ${writers.map(describeWriter).join(", ")} after ${waitSeconds} s`,
        "wait for the upload to finish (typhoon-agent.path starts the apply again), or raise --lock-wait",
      );
    }
    await pause(POLL_MS);
  }
}

export function describeWriter(writer: Writer): string {
  return `${writer.command} (pid ${writer.pid})`;
}

/** Processes other than this one with a descriptor open for writing on the file `target` is. */
function writersOf(target: fs.Stats): Writer[] {
  const writers: Writer[] = [];
  for (const pid of attempt("list", "/proc", () => fs.readdirSync("/proc"))) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    for (const fd of descriptorsOf(pid)) {
      const writer = gone(() => {
        const open = fs.statSync(`/proc/${pid}/fd/${fd}`);
        if (open.ino !== target.ino || open.dev !== target.dev) return undefined;
        const flags = /^flags:\s*([0-7]+)$/m.exec(fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, "utf8"));
        if (flags === null || (Number.parseInt(flags[1]!, 8) & O_ACCMODE) === 0) return undefined;
        return { pid: Number(pid), command: fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim() };
      });
      if (writer !== undefined) {
        writers.push(writer);
        break;
      }
    }
  }
  return writers;
}

/** The open descriptors of process `pid`; none when it is gone, or not ours to look into. */
function descriptorsOf(pid: string): string[] {
  return gone(() => fs.readdirSync(`/proc/${pid}/fd`)) ?? [];
}

/**
 * `look` at a process in /proc, or undefined when it (or the descriptor) went away meanwhile
 * (ENOENT, ESRCH), or is not ours to look into (EACCES, EPERM; root, which apply runs as,
 * sees every process). Any other failure (EIO) is an error: a writer could hide behind it.
 */
function gone<T>(look: () => T | undefined): T | undefined {
  try {
    return look();
  } catch (error) {
    if (["ENOENT", "ESRCH", "EACCES", "EPERM"].includes((error as NodeJS.ErrnoException).code ?? "")) return undefined;
    throw fromSystemError(error, "inspect", "/proc");
  }
}
