// The bundle decoder: the exact inverse of Terraform's
//     join("\n", [for k in sort(keys(m)) : "##### ${k}\n${m[k]}"])
// read once, front to back, through a fixed-size buffer, so a bundle of any size needs
// the same memory. It validates as it goes and hands each asset's bytes to a sink; the
// sink decides where they go (a staging directory, memory, /dev/null).
//
// The scan is chunk-wide rather than line-by-line: the only bytes that matter are "#####",
// CR, NUL and newlines, and Buffer.indexOf finds each with memchr/memmem speed. That is
// what lets the agent unpack at least as fast as mawk.

import { BundleError } from "../errors.ts";
import { byteOrderMarkEndsAt, dropByteOrderMark } from "./byte-order-mark.ts";
import { AssetNameSet, MAX_NAME_BYTES, NAME_HINT, checkAssetName } from "./asset-name.ts";

export interface AssetSink {
  /** A header opened asset `name` at bundle line `line`. */
  begin(name: string, line: number): void;
  /**
   * The next bytes of the current asset, exactly as Terraform had them. The view is only
   * valid during the call: copy or write it before returning.
   */
  content(bytes: Uint8Array): void;
  /** The current asset is complete; `last` is true for the final asset of the bundle. */
  end(last: boolean): void;
}

/** Reads into `buffer` at `offset`, at most `length` bytes; returns 0 at end of input. */
export type ReadInto = (buffer: Uint8Array, offset: number, length: number) => number;

export interface ParseOptions {
  /** Bytes read per step (tests use tiny chunks to exercise every boundary). */
  chunkSize?: number;
  /** Sees every input byte once, in order (the apply hashes the bundle with it). */
  onInput?: (bytes: Uint8Array) => void;
}

export interface ParseSummary {
  assets: number;
  bytes: number;
}

const DEFAULT_CHUNK = 1 << 20;
const HASHES = Buffer.from("#####");
const NEWLINE = Uint8Array.of(0x0a);
const HEADER_PREFIX_LENGTH = 6; // "##### "
/** A header line (without its newline) is never longer than this. */
const MAX_HEADER_LINE = HEADER_PREFIX_LENGTH + MAX_NAME_BYTES;
/** Bytes kept back at the end of a long content line, so a "#####" split across reads is seen. */
const SPLIT_MARKER_GUARD = HASHES.length - 1;

export function parseBundle(read: ReadInto, sink: AssetSink, options: ParseOptions = {}): ParseSummary {
  const parser = new BundleParser(sink, options);
  while (!parser.step(read));
  return parser.finish();
}

/** parseBundle, awaiting `between()` after each buffer it scanned: where a caller checks for a signal. */
export async function parseBundleInterruptibly(read: ReadInto, sink: AssetSink, between: () => Promise<void>, options: ParseOptions = {}): Promise<ParseSummary> {
  const parser = new BundleParser(sink, options);
  while (!parser.step(read)) await between();
  return parser.finish();
}

class BundleParser {
  private readonly sink: AssetSink;
  private readonly buffer: Buffer;
  private readonly chunkSize: number;
  private readonly onInput: ((bytes: Uint8Array) => void) | undefined;
  private readonly names = new AssetNameSet();

  /** 1-based number of the line that contains buffer position `countedTo`. */
  private line = 1;
  private countedTo = 0;
  /** Whether buffer[0] starts a line (false when a long line continues from the last read). */
  private bufferStartsLine = true;
  private totalBytes = 0;
  /** Input bytes before buffer[0]. */
  private scannedBytes = 0;

  private inAsset = false;
  private assetHeaderLine = 0;
  private assetRawBytes = 0;
  /**
   * The newline that ended the bytes delivered so far is held back: before a header it
   * is Terraform's join separator, not content.
   */
  private pendingNewline = false;

  constructor(sink: AssetSink, options: ParseOptions) {
    this.sink = sink;
    this.chunkSize = Math.max(1, options.chunkSize ?? DEFAULT_CHUNK);
    this.buffer = Buffer.allocUnsafe(MAX_HEADER_LINE + this.chunkSize);
    this.onInput = options.onInput;
  }

  /** Bytes at the front of the buffer carried over from the last read. */
  private carried = 0;
  private firstRead = true;

  /** Fills the buffer once and scans it; true at the end of the input. */
  step(read: ReadInto): boolean {
    const buffer = this.buffer;
    let filled = this.carried;
    let eof = false;
    while (filled < buffer.length) {
      const n = read(buffer, filled, buffer.length - filled);
      if (n === 0) {
        eof = true;
        break;
      }
      this.onInput?.(buffer.subarray(filled, filled + n));
      filled += n;
    }
    this.totalBytes += filled - this.carried;
    if (this.firstRead) {
      filled = dropByteOrderMark(buffer, filled);
      this.firstRead = false;
    }

    const end = eof ? filled : this.safeEnd(filled);
    this.scan(end, filled, eof);
    if (eof) return true;

    // The carried bytes start a line unless they continue one (a long line, or a
    // partial line that is all this buffer held).
    if (end > 0) this.bufferStartsLine = buffer[end - 1] === 0x0a;
    buffer.copyWithin(0, end, filled);
    this.carried = filled - end;
    this.countedTo = 0;
    return false;
  }

  /**
   * How much of a full buffer can be scanned now. A trailing partial line that could still
   * be a header is carried to the next read whole; a longer one cannot be a header, so
   * all but its last few bytes are scanned (the rest guard a "#####" split by the read).
   */
  private safeEnd(filled: number): number {
    const lastNewline = this.buffer.lastIndexOf(0x0a, filled - 1);
    const partialStart = lastNewline + 1;
    if (filled - partialStart <= MAX_HEADER_LINE) return partialStart;
    return filled - SPLIT_MARKER_GUARD;
  }

  /**
   * Validates and delivers buffer[0, end), all of which is final input; buffer[end, filled)
   * is carried to the next read. A "#####" that starts before `end` may finish after it, so
   * markers are searched up to `filled`, and those that start at `end` or later are left to
   * the next scan.
   */
  private scan(end: number, filled: number, eof: boolean): void {
    const buffer = this.buffer;
    const region = buffer.subarray(0, end);
    const badByte = firstForbiddenByte(region);
    const limit = badByte < 0 ? end : badByte;
    const searchable = badByte < 0 ? buffer.subarray(0, filled) : buffer.subarray(0, limit);

    let contentFrom = 0;
    let searchFrom = 0;
    for (;;) {
      const marker = searchable.indexOf(HASHES, searchFrom);
      if (marker < 0 || marker >= end) break;
      this.countLinesTo(marker);
      const startsLine = marker === 0 ? this.bufferStartsLine : buffer[marker - 1] === 0x0a;
      if (!startsLine) {
        if (byteOrderMarkEndsAt(buffer, marker, this.bufferStartsLine)) {
          throw new BundleError("a byte order mark (U+FEFF) before the header marker; two files joined into one?", this.line, "a byte order mark may only start the bundle: remove it from this line");
        }
        throw new BundleError(
          `"#####" inside a content line; awk would take that line for a header`,
          this.line,
          "assets may not contain the header marker #####",
        );
      }
      const lineEnd = region.indexOf(0x0a, marker);
      if (badByte >= 0 && (lineEnd < 0 || lineEnd > limit)) this.rejectForbiddenByte(badByte);
      if (lineEnd < 0) {
        if (eof) throw new BundleError("the last header has no newline; the bundle is truncated", this.line, "copy the bundle again; --expect-sha256 catches a cut anywhere");
        throw new BundleError(`header longer than ${MAX_HEADER_LINE} bytes`, this.line, `asset names are at most ${MAX_NAME_BYTES} bytes`);
      }
      if (!this.inAsset && this.scannedBytes + marker > 0) throw contentBeforeFirstHeader();
      const name = this.headerName(marker, lineEnd);
      this.deliverRaw(contentFrom, marker);
      this.openAsset(name);
      this.countLinesTo(lineEnd + 1);
      contentFrom = lineEnd + 1;
      searchFrom = lineEnd + 1;
    }
    if (!this.inAsset && limit > contentFrom) throw contentBeforeFirstHeader();
    this.deliverRaw(contentFrom, limit);
    if (badByte >= 0) this.rejectForbiddenByte(badByte);
    this.countLinesTo(end);
    this.scannedBytes += end;
  }

  private rejectForbiddenByte(position: number): never {
    this.countLinesTo(position);
    const isCarriageReturn = this.buffer[position] === 0x0d;
    throw new BundleError(
      `${isCarriageReturn ? "a carriage return (CR)" : "a NUL byte"} in the bundle`,
      this.line,
      isCarriageReturn ? "convert the file to LF line endings (dos2unix) and retry" : "the bundle is text; binary assets are not supported",
    );
  }

  private headerName(start: number, lineEnd: number): string {
    const buffer = this.buffer;
    if (lineEnd - start < HEADER_PREFIX_LENGTH || buffer[start + HEADER_PREFIX_LENGTH - 1] !== 0x20) {
      throw new BundleError("malformed header; expected `##### <relative path>`", this.line, "every line starting with ##### is a header to awk, so no asset line may start with it");
    }
    const checked = checkAssetName(buffer.subarray(start + HEADER_PREFIX_LENGTH, lineEnd));
    if ("problem" in checked) throw new BundleError(`asset name ${checked.problem}`, this.line, NAME_HINT);
    return checked.name;
  }

  private openAsset(name: string): void {
    if (this.inAsset) {
      if (this.assetRawBytes === 0) {
        throw new BundleError(
          `header directly follows the header at line ${this.assetHeaderLine}`,
          this.line,
          "Terraform separates assets with a newline, so an empty asset is an empty line",
        );
      }
      this.pendingNewline = false; // the separator Terraform's join put before this header
      this.sink.end(false);
    }
    const problem = this.names.add(name, this.line);
    if (problem !== undefined) throw new BundleError(problem, this.line, AssetNameSet.HINT);
    this.sink.begin(name, this.line);
    this.inAsset = true;
    this.assetHeaderLine = this.line;
    this.assetRawBytes = 0;
  }

  /** Passes buffer[from, to) of the current asset on, holding back a final newline. */
  private deliverRaw(from: number, to: number): void {
    if (to <= from || !this.inAsset) return;
    this.assetRawBytes += to - from;
    if (this.pendingNewline) {
      this.sink.content(NEWLINE);
      this.pendingNewline = false;
    }
    if (this.buffer[to - 1] === 0x0a) {
      if (to - 1 > from) this.sink.content(this.buffer.subarray(from, to - 1));
      this.pendingNewline = true;
    } else {
      this.sink.content(this.buffer.subarray(from, to));
    }
  }

  private countLinesTo(position: number): void {
    if (position <= this.countedTo) return;
    const span = this.buffer.subarray(this.countedTo, position);
    let at = span.indexOf(0x0a);
    while (at >= 0) {
      this.line++;
      at = span.indexOf(0x0a, at + 1);
    }
    this.countedTo = position;
  }

  /** After the last step: the last asset delivered, and what was read. */
  finish(): ParseSummary {
    if (!this.inAsset) {
      throw new BundleError("the bundle is empty", undefined, "expected `##### <path>` headers, each followed by the asset");
    }
    if (this.pendingNewline) this.sink.content(NEWLINE);
    this.sink.end(true);
    return { assets: this.names.size, bytes: this.totalBytes };
  }
}

function contentBeforeFirstHeader(): BundleError {
  return new BundleError("content before the first header", 1, "a bundle starts with a `##### <path>` line");
}

/** Position of the first CR or NUL byte, or -1. Neither ever appears in a Terraform bundle. */
export function firstForbiddenByte(bytes: Uint8Array): number {
  const view = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const cr = view.indexOf(0x0d);
  const nul = view.indexOf(0x00);
  if (cr < 0) return nul;
  if (nul < 0) return cr;
  return Math.min(cr, nul);
}
