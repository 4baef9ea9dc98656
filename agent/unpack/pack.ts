// `typhoon-agent pack`: the encoder, Terraform's
//     join("\n", [for k in sort(keys(m)) : "##### ${k}\n${m[k]}"])
// over a directory tree. Keys are sorted by their UTF-8 bytes, as Go's sort.Strings
// (Terraform's sort()) orders them. Everything is validated before the first byte is
// written, with the rules unpack applies, so pack never produces a bundle unpack refuses.

import * as fs from "node:fs";
import * as path from "node:path";
import { BundleError, fromSystemError } from "../errors.ts";
import { withReadOnlyFile } from "../fsio/read-only.ts";
import { writeAll } from "../fsio/write-all.ts";
import { NAME_HINT, checkAssetName } from "./asset-name.ts";
import { firstForbiddenByte } from "./bundle-parser.ts";

const CHUNK = 1 << 20;
const MARKER = Buffer.from("#####");

export interface PackResult {
  assets: number;
  bytes: number;
}

/**
 * Lists and validates every asset of `directory`. Done before the output is opened, so
 * an output file inside the directory is never read back into the bundle.
 */
export function preparePack(directory: string): string[] {
  const names = listAssets(directory);
  if (names.length === 0) {
    throw new BundleError(`${directory} holds no files; an empty bundle is not valid`);
  }
  for (const name of names) checkContent(directory, name);
  return names;
}

/** Writes the bundle of the prepared `names` to `fd`, awaiting `between()` before each asset (where a signal stops it). */
export async function writePack(directory: string, names: readonly string[], fd: number, between: () => Promise<void>): Promise<PackResult> {
  const buffer = Buffer.allocUnsafe(CHUNK);
  let bytes = 0;
  for (const [index, name] of names.entries()) {
    await between();
    const header = Buffer.from(`${index === 0 ? "" : "\n"}##### ${name}\n`, "utf8");
    writeAll(fd, header);
    bytes += header.length;
    forEachChunk(directory, name, buffer, (chunk) => {
      writeAll(fd, chunk);
      bytes += chunk.length;
    });
  }
  return { assets: names.length, bytes };
}

/** Relative paths of every regular file below `directory`, in Terraform's key order. */
function listAssets(directory: string): string[] {
  const names: string[] = [];
  const walk = (relative: string): void => {
    const absolute = relative === "" ? directory : path.join(directory, relative);
    // Raw names, so a file name that is not UTF-8 is refused as such rather than lost in
    // decoding (Bun's readdir returns no Dirents for raw names, hence the lstat).
    let entries: Buffer[];
    try {
      entries = fs.readdirSync(absolute, { encoding: "buffer" });
    } catch (error) {
      throw fromSystemError(error, "read directory", absolute);
    }
    for (const entry of entries) {
      const checked = checkAssetName(Buffer.concat([Buffer.from(relative === "" ? "" : `${relative}/`), entry]));
      if ("problem" in checked) throw new BundleError(`${path.join(absolute, entry.toString())}: asset name ${checked.problem}`, undefined, NAME_HINT);
      const name = checked.name;
      let stat: fs.Stats;
      try {
        stat = fs.lstatSync(path.join(directory, name));
      } catch (error) {
        throw fromSystemError(error, "inspect", path.join(directory, name));
      }
      if (stat.isDirectory()) {
        walk(name);
      } else if (stat.isFile()) {
        names.push(name);
      } else {
        throw new BundleError(`${path.join(directory, name)} is not a regular file or directory; a bundle holds files only`);
      }
    }
  };
  walk("");
  return names.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

/** Rejects content unpack would reject: CR, NUL, or the header marker anywhere. */
function checkContent(directory: string, name: string): void {
  let line = 1;
  let tail: Buffer = Buffer.alloc(0);
  forEachChunk(directory, name, Buffer.allocUnsafe(CHUNK), (chunk) => {
    const window = tail.length === 0 ? chunk : Buffer.concat([tail, chunk]);
    const bad = firstForbiddenByte(window);
    const marker = window.indexOf(MARKER);
    const first = [bad, marker].filter((at) => at >= 0).sort((a, b) => a - b)[0];
    if (first !== undefined) {
      // The tail was counted with the previous chunk, and a marker that starts in it holds no newline.
      line += countNewlines(window.subarray(tail.length, Math.max(first, tail.length)));
      const what = first === marker ? `contains the header marker "#####"` : window[first] === 0x0d ? "contains a carriage return (CR)" : "contains a NUL byte";
      throw new BundleError(`${path.join(directory, name)} line ${line} ${what}; unpack would reject the bundle`);
    }
    line += countNewlines(chunk);
    tail = Buffer.from(window.subarray(Math.max(0, window.length - (MARKER.length - 1))));
  });
}

function countNewlines(bytes: Uint8Array): number {
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  let count = 0;
  for (let at = view.indexOf(0x0a); at >= 0; at = view.indexOf(0x0a, at + 1)) count++;
  return count;
}

function forEachChunk(directory: string, name: string, buffer: Buffer, use: (chunk: Buffer) => void): void {
  withReadOnlyFile(path.join(directory, name), (fd) => {
    for (let n = fs.readSync(fd, buffer, 0, buffer.length, null); n > 0; n = fs.readSync(fd, buffer, 0, buffer.length, null)) {
      use(buffer.subarray(0, n));
    }
  });
}
