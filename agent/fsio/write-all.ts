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

/** A write failed because the reader went away (EPIPE): `| head -1` is done reading. */
export function isClosedPipe(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === "EPIPE";
}
