// Where a bundle comes from: a file, or standard input when the operator passes "-".
// Reads are synchronous and pulled by the parser, so there is no buffering beyond the
// parser's own fixed buffer.

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
    if (!fs.fstatSync(fd).isFile()) {
      fs.closeSync(fd);
      throw new AgentError(ExitCode.noInput, `bundle ${source} is not a regular file`);
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      throw new AgentError(ExitCode.noInput, `no bundle at ${source}`, "pass the path of the assets file Terraform copied, or - for standard input");
    }
    throw fromSystemError(error, "open bundle", source);
  }
  return { source, read: (buffer, offset, length) => readRetrying(fd, buffer, offset, length, source), close: () => fs.closeSync(fd) };
}

function readRetrying(fd: number, buffer: Uint8Array, offset: number, length: number, source: string): number {
  for (;;) {
    try {
      return fs.readSync(fd, buffer, offset, length, null);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "EAGAIN" || code === "EWOULDBLOCK") {
        // A non-blocking standard input (some pipes and terminals): wait for data.
        Atomics.wait(pause, 0, 0, 2);
        continue;
      }
      if (code === "EOF") return 0;
      throw fromSystemError(error, "read bundle", source);
    }
  }
}
