// In-memory decoding for unit tests: the parser with a sink that keeps every asset.

import { parseBundle, type ParseOptions, type ReadInto } from "../../agent/unpack/bundle-parser.ts";

export interface Decoded {
  assets: Map<string, Buffer>;
  /** Header line of each asset. */
  lines: Map<string, number>;
  order: string[];
}

/** Feeds `bundle` to the parser at most `readSize` bytes per read (default: all at once). */
export function readerOf(bundle: Uint8Array, readSize = Number.MAX_SAFE_INTEGER): ReadInto {
  let offset = 0;
  return (buffer, at, length) => {
    const n = Math.min(length, readSize, bundle.length - offset);
    buffer.set(bundle.subarray(offset, offset + n), at);
    offset += n;
    return n;
  };
}

export function decode(bundle: string | Uint8Array, options: ParseOptions & { readSize?: number } = {}): Decoded {
  const bytes = typeof bundle === "string" ? Buffer.from(bundle) : bundle;
  const assets = new Map<string, Buffer>();
  const lines = new Map<string, number>();
  const order: string[] = [];
  let current = "";
  let chunks: Buffer[] = [];
  const { readSize, ...parseOptions } = options;
  parseBundle(
    readerOf(bytes, readSize),
    {
      begin(name, line) {
        current = name;
        chunks = [];
        lines.set(name, line);
        order.push(name);
      },
      content(part) {
        chunks.push(Buffer.from(part));
      },
      end() {
        assets.set(current, Buffer.concat(chunks));
      },
    },
    parseOptions,
  );
  return { assets, lines, order };
}

export function asText(assets: Map<string, Buffer>): Record<string, string> {
  return Object.fromEntries([...assets].map(([name, bytes]) => [name, bytes.toString("utf8")]));
}
