// A bundle still being uploaded. typhoon-agent.path fires when Terraform's file provisioner
// creates /home/core/assets, not when it has finished writing it, and a bundle cut short on a
// line boundary can parse. So before reading, apply waits while any process holds the file
// open for writing, found in /proc as fuser(1) finds it (Node has no fcntl leases). A file
// nobody has written for a minute is not scanned: an upload in progress keeps it fresh.

import * as fs from "node:fs";
import { AgentError, ExitCode } from "../errors.ts";
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
  const target = fs.statSync(file, { throwIfNoEntry: false });
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
  for (const pid of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    for (const fd of descriptorsOf(pid)) {
      // Processes and descriptors come and go while we look; what vanished writes nothing.
      try {
        const open = fs.statSync(`/proc/${pid}/fd/${fd}`);
        if (open.ino !== target.ino || open.dev !== target.dev) continue;
        const flags = /^flags:\s*([0-7]+)$/m.exec(fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, "utf8"));
        if (flags !== null && (Number.parseInt(flags[1]!, 8) & O_ACCMODE) !== 0) {
          writers.push({ pid: Number(pid), command: fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim() });
          break;
        }
      } catch {
        continue;
      }
    }
  }
  return writers;
}

/** The open descriptors of process `pid`; none when it is gone, or not ours to look into. */
function descriptorsOf(pid: string): string[] {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`);
  } catch {
    return [];
  }
}
