import { expect } from "vitest";

/** Byte-for-byte equality that reports the first differing offset instead of two dumps. */
export function expectSameBytes(actual: Uint8Array, expected: Uint8Array, what = "bytes"): void {
  const a = Buffer.from(actual);
  const b = Buffer.from(expected);
  let first = 0;
  while (first < a.length && first < b.length && a[first] === b[first]) first++;
  const context = (bytes: Buffer): string => JSON.stringify(bytes.subarray(Math.max(0, first - 20), first + 20).toString("latin1"));
  const description = first === a.length && first === b.length ? "identical" : `${what} differ at offset ${first}: ${context(a)} vs ${context(b)} (lengths ${a.length}, ${b.length})`;
  expect(description).toBe("identical");
}
