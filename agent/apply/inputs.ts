// The inputs phase of an apply: the bundle (once nobody writes it any more, its digest
// checked), the host's users, and from them and the rendered units the desired state.
// Everything wrong with the inputs is found here, before the host is touched.

import { BundleError } from "../errors.ts";
import { ROOT } from "../fsio/ownership.ts";
import { Accounts } from "../hostfs/accounts.ts";
import { computeDesiredState, type DesiredState } from "../plan/desired-state.ts";
import type { ApplyResult } from "../report/apply-result.ts";
import { openBundleInput } from "../unpack/input.ts";
import { readBundleAssets, type BundleAssets } from "../unpack/read-assets.ts";
import type { ApplyRequest } from "./request.ts";
import { describeWriter, waitForWriters } from "./bundle-writers.ts";

export interface Inputs {
  desired: DesiredState;
  accounts: Accounts;
}

/** Reads and checks every input; notes the bundle, waits and skipped assets in `result`. */
export async function readInputs(request: ApplyRequest, result: ApplyResult): Promise<Inputs> {
  const { host, config } = request;
  const bundle = request.bundle === undefined ? undefined : await readBundle(request.bundle, request, result);
  const accounts = new Accounts(host);
  const desired = computeDesiredState({
    assets: bundle?.assets,
    rendered: request.rendered,
    // Only a bundle brings etcd files; a worker needs no etcd user.
    identities: { etcd: bundle === undefined ? ROOT : accounts.user(config.etcd_user) },
    allowUnknown: request.allowUnknown,
    config,
    runtime: request.runtime,
    bundleSha256: bundle?.sha256,
  });
  result.skippedAssets = desired.skippedAssets;
  for (const skipped of desired.skippedAssets) result.warnings.push(`asset ${skipped} has no place in the placement table; skipped (--allow-unknown)`);
  return { desired, accounts };
}

async function readBundle(source: string, request: ApplyRequest, result: ApplyResult): Promise<BundleAssets> {
  if (source !== "-") {
    const { waitedMs, writers } = await waitForWriters(source, request.lockWaitSeconds);
    if (writers.length > 0) result.warnings.push(`waited ${waitedMs} ms for ${writers.map(describeWriter).join(", ")} to finish writing the bundle`);
  }
  const input = openBundleInput(source);
  let bundle: BundleAssets;
  try {
    bundle = readBundleAssets(input);
  } finally {
    input.close();
  }
  if (request.expectSha256 !== undefined && bundle.sha256 !== request.expectSha256) {
    throw new BundleError(`bundle sha256 is ${bundle.sha256}, expected ${request.expectSha256}`, undefined, "the transfer was truncated or corrupted; copy the bundle again");
  }
  result.bundle = { path: source, sha256: bundle.sha256, bytes: bundle.bytes, assets: bundle.assets.size };
  return bundle;
}
