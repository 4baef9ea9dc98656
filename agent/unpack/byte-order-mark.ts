// A byte order mark at the start of a bundle: an editor's, or PowerShell's. awk reads a UTF-8
// one as part of the first header's first field, which it drops, so the decoder drops it too;
// a UTF-16 one means every character is two bytes, which nothing later could name as clearly.

import { BundleError } from "../errors.ts";

const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** The first read of a bundle, in buffer[0, filled): drops a UTF-8 BOM; returns the new fill. */
export function dropByteOrderMark(buffer: Buffer, filled: number): number {
  if (filled >= UTF8_BOM.length && buffer.subarray(0, UTF8_BOM.length).equals(UTF8_BOM)) {
    buffer.copyWithin(0, UTF8_BOM.length, filled);
    return filled - UTF8_BOM.length;
  }
  if (filled >= 2 && ((buffer[0] === 0xff && buffer[1] === 0xfe) || (buffer[0] === 0xfe && buffer[1] === 0xff))) {
    throw new BundleError(
      "the bundle is UTF-16 (it starts with a UTF-16 byte order mark); Terraform writes UTF-8",
      1,
      "convert it: iconv -f UTF-16 -t UTF-8 BUNDLE > BUNDLE.utf8 (Windows PowerShell's > writes UTF-16)",
    );
  }
  return filled;
}

/**
 * Whether a UTF-8 BOM starts the line and ends at `marker` (a "#####"): two files joined with
 * cat, say. `startsLine` says whether buffer[0] starts a line.
 */
export function byteOrderMarkEndsAt(buffer: Buffer, marker: number, startsLine: boolean): boolean {
  const start = marker - UTF8_BOM.length;
  if (start < 0 || !buffer.subarray(start, marker).equals(UTF8_BOM)) return false;
  return start === 0 ? startsLine : buffer[start - 1] === 0x0a;
}
