// The bundle in memory, for apply: every asset with the line of its header, and the
// sha256 Terraform's sha256(bundle) gives for the same bytes. A controller's bundle is
// about 77 KB; apply compares each asset with the installed file anyway.

import { parseBundle } from "./bundle-parser.ts";
import type { BundleInput } from "./input.ts";
import { sha256 } from "./sha256.ts";

export interface BundleAssets {
  assets: Map<string, { content: Buffer; line: number }>;
  sha256: string;
  bytes: number;
}

export function readBundleAssets(input: BundleInput): BundleAssets {
  const hash = sha256();
  const assets = new Map<string, { content: Buffer; line: number }>();
  let name = "";
  let line = 0;
  let parts: Buffer[] = [];
  const summary = parseBundle(
    input.read,
    {
      begin(assetName, headerLine) {
        name = assetName;
        line = headerLine;
        parts = [];
      },
      content(bytes) {
        parts.push(Buffer.from(bytes));
      },
      end() {
        assets.set(name, { content: Buffer.concat(parts), line });
      },
    },
    { onInput: (bytes) => hash.update(bytes) },
  );
  return { assets, sha256: hash.hex(), bytes: summary.bytes };
}
