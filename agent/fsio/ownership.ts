import type * as fs from "node:fs";

/** Who owns a file: what chown(2) takes. */
export interface Owner {
  uid: number;
  gid: number;
}

/** Owner and permission bits: what the agent gives every file and directory it installs. */
export interface Ownership extends Owner {
  mode: number;
}

export const ROOT: Owner = { uid: 0, gid: 0 };

/** The owner and permission bits (no file type) of `stat`. */
export function ownershipOf(stat: fs.Stats): Ownership {
  return { uid: stat.uid, gid: stat.gid, mode: stat.mode & 0o7777 };
}

export function sameOwnership(a: Ownership, b: Ownership): boolean {
  return a.uid === b.uid && a.gid === b.gid && a.mode === b.mode;
}

/** 0400, 0644: a permission mode as ls and chmod spell it. */
export function formatMode(mode: number): string {
  return mode.toString(8).padStart(4, "0");
}
