import * as fs from "node:fs";

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

/** Flags of a file the agent creates: only new (never an existing file), never through a link. */
export const CREATE_NEW = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW;

/**
 * Writes `content` as the new file `file`, created with CREATE_NEW and `mode` (umask only
 * removes bits), so nobody can have it open before it holds what it should. A file of that
 * name already there is an error (EEXIST): callers name temporary files so that none is.
 */
export function writeNewFile(file: string, content: string | Uint8Array, mode: number): void {
  const fd = fs.openSync(file, CREATE_NEW, mode);
  try {
    writeAll(fd, typeof content === "string" ? Buffer.from(content) : content);
  } finally {
    fs.closeSync(fd);
  }
}
