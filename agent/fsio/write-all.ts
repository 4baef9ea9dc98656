import * as fs from "node:fs";

/** write(2) may write less than asked (signals, pipes); loop until every byte is out. */
export function writeAll(fd: number, bytes: Uint8Array): void {
  let offset = 0;
  while (offset < bytes.length) {
    offset += fs.writeSync(fd, bytes, offset, bytes.length - offset);
  }
}
