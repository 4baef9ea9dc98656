// The names the agent gives its own temporary files, in one place: apply's and rollback's
// temp and undo files beside each target, unpack's staging directory, and the transaction
// ids they carry. The cleanup of a dead run finds them by these names, which is why no
// bundle asset may start a path segment with RESERVED_PREFIX (unpack/asset-name.ts).

import * as path from "node:path";
import { realChild, realParent, type RealPath } from "../hostfs/host-root.ts";

export const RESERVED_PREFIX = ".typhoon-agent";

/** `.typhoon-agent.<id>.<n>.tmp` (the new content) and `.orig` (the old file, for undo). */
const SIBLING = /^\.typhoon-agent\.[0-9A-Za-z.-]+\.\d+\.(tmp|orig)$/;
const TRANSACTION_ID = /^\d{8}T\d{9}Z$/;
/** unpack's staging directory inside its target: `.typhoon-agent-unpack.<pid>`. */
const STAGING_PREFIX = `${RESERVED_PREFIX}-unpack.`;

/** A transaction is named by its UTC start, 20261124T181234567Z: sorts by time, needs no escaping. */
export function newTransactionId(): string {
  return new Date().toISOString().replace(/[-:.]/g, "");
}

export function isTransactionId(name: string): boolean {
  return TRANSACTION_ID.test(name);
}

/** Hands out the temp and undo names of one transaction's steps, numbered in step order. */
export class SiblingNames {
  private readonly id: string;
  private count = 0;

  constructor(id: string) {
    this.id = id;
  }

  /** The next step's names, in the directory of `target`, so a rename never crosses a filesystem. */
  next(target: RealPath): { temp: RealPath; undo: RealPath } {
    const stem = `${RESERVED_PREFIX}.${this.id}.${++this.count}`;
    const directory = realParent(target);
    return { temp: realChild(directory, `${stem}.tmp`), undo: realChild(directory, `${stem}.orig`) };
  }
}

/**
 * The longest temp or undo name a transaction of up to a million steps gives a file: each
 * target's directory must leave room for it below PATH_MAX (plan/limits.ts).
 */
export const LONGEST_SIBLING_NAME = `${RESERVED_PREFIX}.20261124T181234567Z.999999.orig`;

/** A temp or undo file of some transaction (a dead run's leftover, when no record names it). */
export function isSiblingName(name: string): boolean {
  return SIBLING.test(name);
}

export function stagingDirectoryName(pid: number): string {
  return `${STAGING_PREFIX}${pid}`;
}

/** The pid in a staging directory's name, or undefined for any other name. */
export function stagingPid(name: string): number | undefined {
  if (!name.startsWith(STAGING_PREFIX)) return undefined;
  const pid = Number(path.basename(name).slice(STAGING_PREFIX.length));
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}
