// Temporary names that carry the pid of the process that made them (a metrics file's
// `.name.<pid>.tmp`, unpack's staging directory) are abandoned once no process has that pid:
// the run that made them died before its rename or clean-up, and the next run removes them.

import { fromSystemError } from "../errors.ts";

/**
 * True when no live process but this one has `pid`. This process's own pid on such a name is
 * an earlier process's that had it: the callers look before they make their own.
 */
export function abandonedBy(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ESRCH") return true;
    if (code === "EPERM") return false; // the process exists, another user's
    throw fromSystemError(error, "look for the process of", String(pid));
  }
}
