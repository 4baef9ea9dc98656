// Seeded fuzz cases for the bundle codec: valid bundles Terraform could write (binary bytes,
// #### lines, empty assets, very long lines and names) and near-valid ones, each mutation
// a way a real transfer or a hand edit breaks a bundle. Every case says which verdict the
// codec owes it, so the oracle is the mutation, not the code under test.

import { terraformBundle } from "../../scripts/make-bundle.ts";
import { randomAssetMap } from "./random-bundle.ts";
import type { Random } from "./random.ts";

export interface FuzzCase {
  bundle: Buffer;
  verdict: "valid" | "invalid";
  /** What was done to the bundle. */
  mutation: string;
  /** The asset names of the valid map it started from (awk needs their directories). */
  names: string[];
  assets: Map<string, Buffer>;
}

type Mutation = (bundle: Buffer, random: Random) => Buffer | undefined;

const insertAt = (bundle: Buffer, at: number, bytes: string | Buffer): Buffer =>
  Buffer.concat([bundle.subarray(0, at), Buffer.from(bytes), bundle.subarray(at)]);

const lineStarts = (bundle: Buffer): number[] => {
  const starts = [0];
  for (let at = bundle.indexOf(0x0a); at >= 0; at = bundle.indexOf(0x0a, at + 1)) if (at + 1 < bundle.length) starts.push(at + 1);
  return starts;
};

const headerStarts = (bundle: Buffer): number[] => lineStarts(bundle).filter((at) => bundle.subarray(at, at + 6).toString() === "##### ");

/** Mutations that must make any bundle invalid. */
const BREAKING: Record<string, Mutation> = {
  "a stray CR": (bundle, random) => insertAt(bundle, random.int(0, bundle.length), "\r"),
  "a CRLF line ending": (bundle, random) => {
    const starts = lineStarts(bundle).filter((at) => at > 0);
    return starts.length === 0 ? undefined : insertAt(bundle, random.pick(starts) - 1, "\r");
  },
  "a NUL byte": (bundle, random) => insertAt(bundle, random.int(0, bundle.length), "\0"),
  "##### in the middle of a content line": (bundle, random) => {
    // Not into a header line: "##### na#####me" is a valid (if odd) name.
    const headers = headerStarts(bundle).map((start) => [start, bundle.indexOf(0x0a, start)] as const);
    const at = random.int(0, bundle.length);
    if (headers.some(([start, end]) => at >= start && (end < 0 || at <= end))) return undefined;
    return insertAt(bundle, at, "x#####");
  },
  "a partial header (#####x)": (bundle, random) => insertAt(bundle, random.pick(lineStarts(bundle)), "#####x\n"),
  "content before the first header": (bundle) => insertAt(bundle, 0, "stray\n"),
  "a truncated last header": (bundle, random) => {
    const starts = headerStarts(bundle);
    const at = random.pick(starts);
    const end = bundle.indexOf(0x0a, at);
    return end < 0 ? undefined : bundle.subarray(0, end);
  },
  "a duplicated asset": (bundle, random) => {
    const at = random.pick(headerStarts(bundle));
    const end = bundle.indexOf(0x0a, at);
    return Buffer.concat([bundle, Buffer.from("\n"), bundle.subarray(at, end + 1), Buffer.from("dup")]);
  },
  "a header without the newline Terraform puts before it": (bundle) => {
    const starts = headerStarts(bundle);
    // An asset ending in a newline would simply lose it and stay valid.
    if (starts.length < 2 || bundle[starts[1]! - 2] === 0x0a) return undefined;
    return Buffer.concat([bundle.subarray(0, starts[1]! - 1), bundle.subarray(starts[1]!)]);
  },
  "a traversal name": (bundle) => Buffer.concat([bundle, Buffer.from("\n##### ../escape\nx")]),
  "an absolute name": (bundle) => Buffer.concat([bundle, Buffer.from("\n##### /etc/escape\nx")]),
  "a name segment over 255 bytes": (bundle, random) => Buffer.concat([bundle, Buffer.from(`\n##### ${"n".repeat(random.int(256, 400))}\nx`)]),
  "a header with two fields": (bundle) => Buffer.concat([bundle, Buffer.from("\n##### two fields\nx")]),
  "an empty bundle": () => Buffer.alloc(0),
};

/** Mutations a valid bundle survives (or nothing at all). */
const HARMLESS: Record<string, Mutation> = {
  unchanged: (bundle) => bundle,
  "#### (four) at line starts": (bundle, random) => {
    const starts = lineStarts(bundle).filter((at) => bundle.subarray(at, at + 5).toString() !== "#####");
    const at = random.pick(starts.length > 0 ? starts : [bundle.length]);
    return at === 0 ? undefined : insertAt(bundle, at, "####\n");
  },
  "binary bytes in content": (bundle) => Buffer.concat([bundle, Buffer.from([0x01, 0x7f, 0x80, 0xfe, 0xff])]),
  "a 100 KB line": (bundle) => Buffer.concat([bundle, Buffer.from(`\n${"L".repeat(100_000)}`)]),
};

export function fuzzCase(random: Random): FuzzCase {
  const assets = randomAssetMap(random, { binary: true, maxAssets: 6 });
  const valid = terraformBundle(assets);
  const breaking = random.chance(0.6);
  const table = breaking ? BREAKING : HARMLESS;
  const mutation = random.pick(Object.keys(table));
  const bundle = table[mutation]!(valid, random) ?? valid;
  const verdict = breaking && bundle !== valid ? "invalid" : "valid";
  return { bundle, verdict, mutation: bundle === valid && breaking ? "unchanged" : mutation, names: [...assets.keys()], assets };
}
