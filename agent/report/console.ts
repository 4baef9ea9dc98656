// Terminal output goes straight to file descriptors 1 and 2: Bun builds the
// process.stdout/stderr stream objects lazily, and that alone costs a boot-time tool
// several milliseconds.

import { writeAll } from "../fsio/write-all.ts";

/** A line for the operator on standard error. */
export function say(line: string): void {
  try {
    writeAll(2, Buffer.from(`typhoon-agent: ${line}\n`));
  } catch {
    // A closed standard error must not turn a finished apply into a failure.
  }
}

/** Machine-readable output (JSON, rendered units) on standard output. */
export function print(text: string): void {
  writeAll(1, Buffer.from(text.endsWith("\n") ? text : `${text}\n`));
}
