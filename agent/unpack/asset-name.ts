// The rules for an asset name (the path after `##### `), shared by unpack and pack so
// that pack can never write a bundle unpack would refuse. A name must be something the
// awk one-liner writes to exactly the same relative file, and nothing that could escape
// the target directory.

import { RESERVED_PREFIX } from "../transaction/names.ts";

/** Longest header line accepted: `##### ` plus a name of PATH_MAX bytes. */
export const MAX_NAME_BYTES = 4096;
const MAX_SEGMENT_BYTES = 255;
// unpack's staging directory and apply's temp files carry the reserved prefix, and both are
// cleaned up by name (transaction/names.ts), so no asset may use it.

/** What to do about a name the rules refuse; the name comes from the Terraform asset map. */
export const NAME_HINT = "asset names are relative paths of plain segments (no spaces, backslashes, control characters, . or ..); fix the key in the Terraform asset map";

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Decodes and checks the raw bytes of a name. Returns the name, or the reason it is
 * rejected (phrased to follow "asset name ...").
 */
export function checkAssetName(raw: Uint8Array): { name: string } | { problem: string } {
  if (raw.length === 0) return { problem: "is empty (a header is `##### <relative path>`)" };
  if (raw.length > MAX_NAME_BYTES) return { problem: `is longer than ${MAX_NAME_BYTES} bytes` };
  for (const byte of raw) {
    if (byte === 0x20 || byte === 0x09) {
      return { problem: "has more than one field (awk would only read the first word as the file name)" };
    }
    if (byte < 0x20 || byte === 0x7f) {
      return { problem: `contains the control character 0x${byte.toString(16).padStart(2, "0")}` };
    }
    if (byte === 0x5c) return { problem: "contains a backslash" };
  }
  let name: string;
  try {
    name = utf8.decode(raw);
  } catch {
    return { problem: "is not valid UTF-8" }; // the only thing a fatal TextDecoder throws for
  }
  return checkDecodedName(name);
}

function checkDecodedName(name: string): { name: string } | { problem: string } {
  const shown = JSON.stringify(name);
  if (name.startsWith("/")) return { problem: `${shown} is absolute (names are relative paths)` };
  if (name === "-") return { problem: `"-" is standard output to awk, not a file` };
  for (const segment of name.split("/")) {
    if (segment === "") return { problem: `${shown} has an empty path segment` };
    if (segment === "." || segment === "..") {
      return { problem: `${shown} has a "${segment}" segment (names may not leave or alias their directory)` };
    }
    if (Buffer.byteLength(segment) > MAX_SEGMENT_BYTES) {
      return { problem: `${shown} has a segment longer than ${MAX_SEGMENT_BYTES} bytes` };
    }
    if (segment.startsWith(RESERVED_PREFIX)) {
      return { problem: `${shown} starts a segment with ${RESERVED_PREFIX}, which the agent reserves for its temporary files` };
    }
  }
  return { name };
}

/**
 * Tracks the names of one bundle: no duplicates, and no name that is both a file and a
 * directory of another (awk could not write both; the second would fail half-way).
 */
export class AssetNameSet {
  /** What to do about a problem add() reports. */
  static readonly HINT = "a Terraform asset map has each key once, and no key is the directory of another: was the bundle concatenated or edited?";

  private readonly files = new Map<string, number>();
  private readonly directories = new Map<string, number>();

  /** Returns a problem description, or undefined when `name` fits with the others. */
  add(name: string, line: number): string | undefined {
    const previous = this.files.get(name);
    if (previous !== undefined) return `duplicate asset ${JSON.stringify(name)} (first at line ${previous})`;
    const asDirectory = this.directories.get(name);
    if (asDirectory !== undefined) {
      return `asset ${JSON.stringify(name)} is also a directory of the asset at line ${asDirectory}`;
    }
    const segments = name.split("/");
    for (let i = 1; i < segments.length; i++) {
      const parent = segments.slice(0, i).join("/");
      const fileLine = this.files.get(parent);
      if (fileLine !== undefined) {
        return `asset ${JSON.stringify(name)} needs ${JSON.stringify(parent)} as a directory, but line ${fileLine} makes it a file`;
      }
    }
    for (let i = 1; i < segments.length; i++) {
      const parent = segments.slice(0, i).join("/");
      if (!this.directories.has(parent)) this.directories.set(parent, line);
    }
    this.files.set(name, line);
    return undefined;
  }

  get size(): number {
    return this.files.size;
  }
}
