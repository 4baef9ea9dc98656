// Flag values checked as yargs parses them, so a typo is a usage error (exit 2) naming the
// flag, never a failure deep inside the run: yargs reads `--lock-wait abc` as NaN and
// `--warn-days ""` as 0, takes `--root ""` (an unset shell variable) or a `--root` left
// as the last word for an empty path that resolves to the current directory, and a
// mistyped digest would otherwise be reported as a corrupted bundle. A value the operator
// typed is never empty: an empty one is refused before anything is read or written, and
// `--root` names a directory that exists. The number flags are declared as strings, so
// yargs does not read `0x10` as 16 or ` 3` as 3 before the check here sees them.

import { UsageError, describeErrno } from "../errors.ts";

/**
 * yargs turns a positional "-" into an empty string, so "-" (standard input) travels
 * through the parser as a placeholder no real argument can equal: argv never holds NUL.
 */
export const STDIN_PLACEHOLDER = "\u0000stdin";

const EMPTY_HINT = "an unset shell variable, or a flag left without its value? give the value, or leave the flag out for its default";

/**
 * yargs reports a failed check as a new error carrying only its message; the refusal
 * itself, with its hint, is found again here by that message.
 */
const refusals = new Map<string, UsageError>();

function refuse(message: string, hint = "see typhoon-agent --help"): UsageError {
  const error = new UsageError(message, hint);
  refusals.set(message, error);
  return error;
}

/**
 * The UsageError behind one of yargs' messages: a value a check here refused, or yargs'
 * own "Not enough arguments following: root" for a flag given as the last word (every
 * flag that takes a value requires one, so `--root` alone is never "/").
 */
export function usageErrorFor(message: string): UsageError | undefined {
  const missing = /^Not enough arguments following: (.+)$/.exec(message)?.[1];
  if (missing !== undefined) return new UsageError(`${flagShown(missing)} takes a value, and was given none`, EMPTY_HINT);
  return refusals.get(message);
}

/**
 * The value of a flag as the operator typed it: the last one when it was given twice
 * (yargs collects repeats into a list), never empty or blank. `what` names what it takes.
 */
function typed(flag: string, what: string, raw: unknown): string {
  const values = (Array.isArray(raw) ? raw : [raw]).map((value) => (value === STDIN_PLACEHOLDER ? "-" : String(value ?? "")));
  for (const value of values) {
    if (value.trim() === "") throw refuse(`${flagShown(flag)} takes ${what}, and was given an empty value`, EMPTY_HINT);
  }
  return values.at(-1)!;
}

/** `--root`, `-C`, or a positional `<bundle>`, as the operator wrote it. */
function flagShown(flag: string): string {
  return flag.startsWith("<") ? flag : flag.length === 1 ? `-${flag}` : `--${flag}`;
}

/** The longest --lock-wait: a day. An upload or an apply that holds the lock longer is stuck, not busy. */
export const MAX_WAIT_SECONDS = 86_400;
/** The furthest --warn-days looks ahead: ten years, past any certificate's lifetime (Typhoon issues one year). */
export const MAX_WARN_DAYS = 3650;

/**
 * A number as a person types it: decimal digits, and for seconds a decimal fraction. Number()
 * would also take 0x10, 1e3, blanks around it, +3 and Infinity, and a huge value silently.
 */
function decimal(flag: string, unit: "seconds" | "days", max: number, raw: unknown): number {
  const value = typed(flag, `a number of ${unit}`, raw);
  const form = unit === "seconds" ? /^\d+(\.\d+)?$/ : /^\d+$/;
  const number = Number(value);
  if (!form.test(value) || number > max) {
    const what = unit === "seconds" ? "decimal digits, a fraction allowed" : "whole days in decimal digits";
    throw refuse(`--${flag} takes a number of ${unit} from 0 to ${max} (${what}), not ${JSON.stringify(value)}`);
  }
  return number;
}

/** A wait in seconds, up to MAX_WAIT_SECONDS; fractions allowed (flock(1) takes them). */
export function seconds(flag: string): (raw: unknown) => number {
  return (raw) => decimal(flag, "seconds", MAX_WAIT_SECONDS, raw);
}

/** A whole number of days, up to MAX_WARN_DAYS. */
export function days(flag: string): (raw: unknown) => number {
  return (raw) => decimal(flag, "days", MAX_WARN_DAYS, raw);
}

/** A SHA-256 digest as sha256sum and Terraform's sha256() print it: 64 hex digits. */
export function sha256Digest(flag: string): (raw: unknown) => string {
  return (raw) => {
    const value = typed(flag, "a SHA-256 digest", raw);
    if (!/^[0-9a-fA-F]{64}$/.test(value)) throw refuse(`--${flag} takes a SHA-256 digest of 64 hex digits (sha256sum prints it), not ${JSON.stringify(value)}`);
    return value.toLowerCase();
  };
}

/**
 * A path the operator names. `stdin`: "-" means standard input (a bundle) or output; else
 * "-" is refused, since no directory or configuration file is read from a stream.
 */
export function pathValue(flag: string, what: string, options: { stdin: boolean } = { stdin: false }): (raw: unknown) => string {
  return (raw) => {
    const value = typed(flag, what, raw);
    if (value === "-" && !options.stdin) throw refuse(`${flagShown(flag)} takes ${what}, not - (standard input)`);
    return value;
  };
}

const UNMOUNTED_HINT = "is the node's filesystem mounted there? the agent never creates the root it works in: mount it, or mkdir a scratch tree first";

/**
 * A directory that exists, a symlink to one followed: `--root /mnt/node` over a mount that
 * failed, or a typo, must not become a tree the agent creates and installs into.
 */
export function existingDirectory(flag: string, what: string): (raw: unknown) => string {
  const named = pathValue(flag, what);
  return (raw) => {
    const value = named(raw);
    // Loaded on use, as yargs' own built-ins are: every start would pay for node:fs.
    const fs = require("node:fs") as typeof import("node:fs");
    let reason: string;
    try {
      const stats = fs.statSync(value);
      if (stats.isDirectory()) return notSlashSpelledOtherwise(flag, value, fs.realpathSync(value));
      reason = "it is a file, not a directory";
    } catch (error) {
      if (error instanceof UsageError) throw error;
      const code = (error as NodeJS.ErrnoException).code;
      // Not ours to search (another user, a 0700 parent): the command's own check says so (verify: exit 77).
      if (code === "EACCES") return value;
      reason = code === "ENOENT" ? "no such directory" : describeErrno(code);
    }
    throw refuse(`${flagShown(flag)} ${value}: ${reason}`, UNMOUNTED_HINT);
  };
}

/**
 * "/" spelled otherwise (`/.`, `//`, `/tmp/..`, a link to /) is neither the live root (only
 * "/" starts the kubelet) nor a scratch tree (it would write onto the real /): refused.
 */
function notSlashSpelledOtherwise(flag: string, value: string, real: string): string {
  if (value === "/" || real !== "/") return value;
  const shown = flagShown(flag);
  throw refuse(`${shown} ${value}: that is / spelled otherwise; spell it ${shown} / (or leave ${shown} out) for the live root`);
}

/** Any other value (a configuration flag): the last one given, not empty. Lists keep every item. */
export function nonEmpty(flag: string, options: { list: boolean }): (raw: unknown) => string | string[] {
  return (raw) => {
    const last = typed(flag, "a value", raw);
    return options.list ? (Array.isArray(raw) ? raw.map(String) : [last]) : last;
  };
}
