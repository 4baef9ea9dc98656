import * as fs from "node:fs";
import { removeIfPresent } from "./read-only.ts";

const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * write(2) may write less than asked (signals, pipes) or, on a non-blocking pipe, nothing
 * yet (EAGAIN); loop until every byte is out.
 */
export function writeAll(fd: number, bytes: Uint8Array): void {
  let offset = 0;
  while (offset < bytes.length) {
    try {
      offset += fs.writeSync(fd, bytes, offset, bytes.length - offset);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EAGAIN") throw error;
      Atomics.wait(pause, 0, 0, 1);
    }
  }
}

/** A write failed because the reader went away (EPIPE): `| head -1` is done reading. */
export function isClosedPipe(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === "EPIPE";
}

/** Flags of a file the agent creates: only new (never an existing file), never through a link. */
export const CREATE_NEW = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW;

/**
 * Writes `content` as the new file `file` with exactly `mode`, for the temp files of the
 * agent's own records: a stale one (a run that died) is removed first, then the file is created
 * with CREATE_NEW (so a leftover symlink cannot send the record elsewhere) and its mode set
 * before the first byte, so nobody can have it open before it holds what it should.
 */
export function writeNewFile(file: string, content: string | Uint8Array, mode: number): void {
  removeIfPresent(file);
  const fd = fs.openSync(file, CREATE_NEW, mode);
  try {
    fs.fchmodSync(fd, mode);
    writeAll(fd, typeof content === "string" ? Buffer.from(content) : content);
  } finally {
    fs.closeSync(fd);
  }
}
