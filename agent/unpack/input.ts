// Where a bundle comes from: a file, or a stream: standard input when the operator passes
// "-", or a pipe or terminal named by path (`<(cat assets)`, /dev/stdin). Reads are
// synchronous and pulled by the parser, so there is no buffering beyond the parser's own
// fixed buffer, and a stream is read once, front to back, like a file.

import * as fs from "node:fs";
import { AgentError, ExitCode, fromSystemError } from "../errors.ts";
import type { ReadInto } from "./bundle-parser.ts";

export interface BundleInput {
  /** "-" for standard input, else the path as given. */
  readonly source: string;
  readonly read: ReadInto;
  close(): void;
}

const STDIN_FD = 0;
const pause = new Int32Array(new SharedArrayBuffer(4));

export function openBundleInput(source: string): BundleInput {
  if (source === "-") {
    return { source, read: (buffer, offset, length) => readRetrying(STDIN_FD, buffer, offset, length, "<stdin>"), close() {} };
  }
  let fd: number;
  try {
    fd = fs.openSync(source, fs.constants.O_RDONLY);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      throw new AgentError(ExitCode.noInput, `no bundle at ${source}`, "pass the path of the assets file Terraform copied, or - for standard input");
    }
    throw fromSystemError(error, "open bundle", source);
  }
  refuseOtherKinds(fd, source);
  return { source, read: (buffer, offset, length) => readRetrying(fd, buffer, offset, length, source), close: () => fs.closeSync(fd) };
}

/** A directory, a block device or a socket is never a bundle anyone meant to pass. */
function refuseOtherKinds(fd: number, source: string): void {
  let stat: fs.Stats;
  try {
    stat = fs.fstatSync(fd);
  } catch (error) {
    fs.closeSync(fd);
    throw fromSystemError(error, "inspect bundle", source);
  }
  if (stat.isFile() || stat.isFIFO() || stat.isCharacterDevice()) return;
  fs.closeSync(fd);
  throw new AgentError(ExitCode.noInput, `bundle ${source} is not a regular file, a pipe or a character device`);
}

function readRetrying(fd: number, buffer: Uint8Array, offset: number, length: number, source: string): number {
  for (;;) {
    try {
      return fs.readSync(fd, buffer, offset, length, null);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "EAGAIN" || code === "EWOULDBLOCK") {
        // A non-blocking stream (some pipes and terminals): wait for data.
        Atomics.wait(pause, 0, 0, 2);
        continue;
      }
      if (code === "EOF") return 0;
      throw fromSystemError(error, "read bundle", source);
    }
  }
}
