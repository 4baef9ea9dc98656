// Flag values checked as yargs parses them, so a typo is a usage error (exit 2) naming the
// flag, never a failure deep inside the run: yargs reads `--lock-wait abc` as NaN, and a
// mistyped digest would otherwise be reported as a corrupted bundle.

import { UsageError } from "../errors.ts";

const shown = (value: number): string => (Number.isNaN(value) ? "" : `, not ${value}`);

/** A wait in seconds: 0 or more, fractions allowed (flock(1) takes them). */
export function seconds(flag: string): (value: number) => number {
  return (value) => {
    if (!Number.isFinite(value) || value < 0) throw new UsageError(`--${flag} takes a number of seconds, 0 or more${shown(value)}`);
    return value;
  };
}

/** A whole number of days, 0 or more. */
export function days(flag: string): (value: number) => number {
  return (value) => {
    if (!Number.isInteger(value) || value < 0) throw new UsageError(`--${flag} takes a whole number of days, 0 or more${shown(value)}`);
    return value;
  };
}

/** A SHA-256 digest as sha256sum and Terraform's sha256() print it: 64 hex digits. */
export function sha256Digest(flag: string): (value: string) => string {
  return (value) => {
    if (!/^[0-9a-fA-F]{64}$/.test(value)) throw new UsageError(`--${flag} takes a SHA-256 digest of 64 hex digits (sha256sum prints it), not ${JSON.stringify(value)}`);
    return value.toLowerCase();
  };
}
