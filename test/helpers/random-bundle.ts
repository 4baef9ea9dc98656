// Random asset maps that Terraform could produce (valid bundles), for property and
// differential tests and the fuzzer.

import type { Random } from "./random.ts";

const NAME_CHARACTERS = [..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.+=,:@%~", "é", "ß", "日", "本", "ü"];
const CONTENT_PIECES = ["a", "b", "z", " ", "\t", "#", "##", "####", "é", "日本", "-----BEGIN", "key: value", "\u00ff", "$", "\\", "'", '"', "/", "%", "~"];

export interface MapShape {
  maxAssets?: number;
  maxLines?: number;
  /** Allow raw high bytes (invalid UTF-8) in contents. */
  binary?: boolean;
}

/** Breaks every run of five or more "#" (a valid bundle never holds the header marker). */
function withoutMarker(text: string): string {
  return text.replace(/####(?=#)/g, "####-");
}

export function randomName(random: Random, depth = random.int(1, 3)): string {
  const segments: string[] = [];
  for (let i = 0; i < depth; i++) {
    let segment = "";
    const length = random.chance(0.02) ? random.int(200, 255) : random.int(1, 12);
    while (Buffer.byteLength(segment) < length) segment += random.pick(NAME_CHARACTERS);
    while (Buffer.byteLength(segment) > 255) segment = segment.slice(0, -1);
    if (segment === "." || segment === ".." || segment === "-") segment = `x${segment}`;
    segments.push(segment);
  }
  return segments.join("/");
}

export function randomContent(random: Random, shape: MapShape = {}): Buffer {
  const roll = random.next();
  if (roll < 0.08) return Buffer.alloc(0);
  if (roll < 0.12) return Buffer.from("\n".repeat(random.int(1, 3)));
  const lines: Buffer[] = [];
  const count = random.int(1, shape.maxLines ?? 12);
  for (let i = 0; i < count; i++) {
    if (random.chance(0.15)) {
      lines.push(Buffer.alloc(0));
      continue;
    }
    if (random.chance(0.03)) {
      lines.push(Buffer.from("x".repeat(random.int(5000, 70000))));
      continue;
    }
    let line = "";
    const pieces = random.int(1, 10);
    for (let j = 0; j < pieces; j++) line += random.pick(CONTENT_PIECES);
    let bytes = Buffer.from(withoutMarker(line), "utf8");
    if (shape.binary && random.chance(0.2)) {
      bytes = Buffer.concat([bytes, Buffer.from([random.int(0x80, 0xfe), random.int(0x01, 0x0c)].filter((b) => b !== 0x0a))]);
    }
    lines.push(bytes);
  }
  const joined = Buffer.concat(lines.flatMap((line, index) => (index === 0 ? [line] : [Buffer.from("\n"), line])));
  const cleaned = Buffer.from(withoutMarker(joined.toString("latin1")), "latin1");
  return random.chance(0.6) ? Buffer.concat([cleaned, Buffer.from("\n")]) : cleaned;
}

/** A valid asset map: unique names, no name both a file and a directory. */
export function randomAssetMap(random: Random, shape: MapShape = {}): Map<string, Buffer> {
  const assets = new Map<string, Buffer>();
  const directories = new Set<string>();
  const count = random.int(1, shape.maxAssets ?? 8);
  let attempts = 0;
  while (assets.size < count && attempts++ < count * 20) {
    const name = randomName(random);
    const parents = name.split("/").slice(0, -1).map((_, i, all) => all.slice(0, i + 1).join("/"));
    if (assets.has(name) || directories.has(name) || parents.some((parent) => assets.has(parent))) continue;
    parents.forEach((parent) => directories.add(parent));
    assets.set(name, randomContent(random, shape));
  }
  return assets;
}
