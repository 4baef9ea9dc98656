// Every failure the agent reports is an AgentError: it carries the process exit code
// (sysexits.h), points at the input that caused it and keeps the error that caused it, so
// the CLI can print one precise line and exit without a stack trace. Anything else that
// escapes a command is a bug: an InternalError, exit 70, its stack printed only under -v.
// What each exit code means is written once, in EXIT_CODES below (docs/design.md, "Errors and exit codes").

export const ExitCode = {
  ok: 0,
  failed: 1,
  usage: 2,
  badBundle: 65, // EX_DATAERR
  noInput: 66, // EX_NOINPUT
  noUser: 67, // EX_NOUSER
  internal: 70, // EX_SOFTWARE
  cannotCreate: 73, // EX_CANTCREAT
  ioError: 74, // EX_IOERR
  busy: 75, // EX_TEMPFAIL
  noPermission: 77, // EX_NOPERM
  badConfig: 78, // EX_CONFIG
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * The one description of each exit code: --help, the README's table (drift-tested) and the
 * journal catalog's "apply failed" entry are all rendered from it.
 */
export const EXIT_CODES: Readonly<Record<ExitCodeValue, { meaning: string; when: string }>> = {
  0: { meaning: "success", when: "done as asked; `verify` found no error, warnings allowed" },
  1: { meaning: "failed", when: "an apply failed and was rolled back, `systemctl` failed after the files were installed, or `verify` found an error" },
  2: { meaning: "usage error", when: "an unknown flag or command, a malformed flag value, a bundle given to a worker or none to a controller" },
  65: { meaning: "bad bundle", when: "the message names the bundle line, or the asset" },
  66: { meaning: "no input", when: "the bundle does not exist, `rollback` has no backup, or `verify` finds no install record" },
  67: { meaning: "no such user", when: "the etcd user (`etcd_user`) is in neither passwd file of the host" },
  70: { meaning: "internal error", when: "a bug in typhoon-agent, not bad input: please report it (`-v` prints its stack)" },
  73: { meaning: "cannot create", when: "permissions, a symlink in the way, a file where a directory belongs" },
  74: { meaning: "I/O error", when: "reading or writing failed (a full or failing disk), or undoing a failed apply failed too" },
  75: { meaning: "busy", when: "another apply holds the lock, or an upload still writes the bundle, after `--lock-wait` seconds" },
  77: { meaning: "no permission", when: "`verify` reads private keys and needs root" },
  78: { meaning: "bad configuration", when: "the message names the key" },
};

/** "65 bad bundle, 67 no such user": the codes' meanings in one line, in the order given. */
export function exitCodeList(codes: readonly ExitCodeValue[]): string {
  return codes.map((code) => `${code} ${EXIT_CODES[code].meaning}`).join(", ");
}

/** The exit-code section of --help: every code, one line each, what it means and when. */
export function exitCodeHelp(): string {
  const lines = Object.entries(EXIT_CODES).map(([code, { meaning, when }]) => `  ${code.padEnd(3)} ${meaning}: ${when.replaceAll("`", "")}`);
  return ["Exit codes:", ...lines].join("\n");
}

/** Where in an apply (or a rollback's transaction) an error happened, in order; result.json's `phase`. */
export const PHASES = ["inputs", "plan", "backup", "prepare", "commit", "finish", "after-commit"] as const;
export type Phase = (typeof PHASES)[number];

export class AgentError extends Error {
  readonly exitCode: ExitCodeValue;
  /** What the operator can do about it; printed on its own line. */
  readonly hint: string | undefined;
  /** The file the failure is about, when there is one (the journal's TYPHOON_PATH). */
  readonly path: string | undefined;
  /** The phase it happened in, once one is known (see inPhase). */
  phase: Phase | undefined;

  /** `options.cause`: the error behind this one, kept for -v and for callers that inspect it. */
  constructor(exitCode: ExitCodeValue, message: string, hint?: string, path?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.exitCode = exitCode;
    this.hint = hint;
    this.path = path;
  }
}

/** The bundle is malformed; `line` is the 1-based line of the bundle that is wrong. */
export class BundleError extends AgentError {
  readonly line: number | undefined;
  constructor(message: string, line?: number, hint?: string, options?: ErrorOptions) {
    super(ExitCode.badBundle, line === undefined ? message : `line ${line}: ${message}`, hint, undefined, options);
    this.line = line;
  }
}

/** A setting in the agent config (or its flag) is wrong; `key` names it. */
export class ConfigError extends AgentError {
  readonly key: string | undefined;
  constructor(message: string, key?: string, hint?: string, options?: ErrorOptions) {
    super(ExitCode.badConfig, key === undefined ? message : `${key}: ${message}`, hint, undefined, options);
    this.key = key;
  }
}

export class UsageError extends AgentError {
  constructor(message: string, hint?: string, options?: ErrorOptions) {
    super(ExitCode.usage, message, hint, undefined, options);
  }
}

const INTERNAL_HINT = "this is a bug in typhoon-agent, not a problem with the input: please report it with the output of the same command run with -v";

/** Anything thrown that is not an AgentError: a bug. The original is the cause; -v prints its stack. */
export class InternalError extends AgentError {
  constructor(cause: unknown, context?: string) {
    super(ExitCode.internal, `${context === undefined ? "" : `${context}: `}internal error: ${messageOf(cause)}`, INTERNAL_HINT, undefined, { cause });
  }
}

/** An error's own words, whatever was thrown. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A failed system call (Node's errors with an errno code), as opposed to a bug. */
export function isSystemError(error: unknown): error is NodeJS.ErrnoException & { code: string } {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).code === "string" && typeof (error as NodeJS.ErrnoException).syscall === "string";
}

/** Translates a Node.js system error on `path` into the sysexits code an operator expects; keeps it as the cause. */
export function fromSystemError(error: unknown, action: string, path: string): AgentError {
  if (error instanceof AgentError) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const cause = { cause: error };
  switch (code) {
    case "ENOENT":
      return new AgentError(ExitCode.noInput, `cannot ${action} ${path}: no such file or directory`, undefined, path, cause);
    case "EACCES":
    case "EPERM":
    case "EROFS":
      return new AgentError(ExitCode.cannotCreate, `cannot ${action} ${path}: ${code}`, `run it as root; if it is, check ${path} and the directories above it: mode and owner (ls -ld), attributes (lsattr -d), SELinux label (ls -Zd), a read-only mount (findmnt -T)`, path, cause);
    case "EEXIST":
    case "ENOTDIR":
    case "EISDIR":
    case "ELOOP":
      return new AgentError(ExitCode.cannotCreate, `cannot ${action} ${path}: ${code}`, `something the agent did not expect is in the way at ${path} or above it (a file, a directory or a symlink): look with ls -ld and move it aside`, path, cause);
    default:
      return new AgentError(ExitCode.ioError, `cannot ${action} ${path}: ${code ?? messageOf(error)}`, "reading or writing failed: check the disk and its free space (dmesg, df)", path, cause);
  }
}

/** Runs `operation`; a system error it throws becomes fromSystemError(action, target). */
export function attempt<T>(action: string, target: string, operation: () => T): T {
  try {
    return operation();
  } catch (error) {
    throw fromSystemError(error, action, target);
  }
}

/**
 * Runs one phase; what escapes it is an AgentError that names the phase (the innermost one,
 * when phases nest). A system error nobody translated becomes `systemError(error)`; anything
 * else is a bug, an InternalError.
 */
export async function inPhase<T>(phase: Phase, work: () => T | Promise<T>, systemError: (error: unknown) => AgentError): Promise<T> {
  try {
    return await work();
  } catch (error) {
    const failure = error instanceof AgentError ? error : isSystemError(error) ? systemError(error) : new InternalError(error);
    failure.phase ??= phase;
    throw failure;
  }
}

/** The stack of the first cause that is not an AgentError (the bug behind an internal error), for -v. */
export function stackOf(error: AgentError): string | undefined {
  for (let cause: unknown = error.cause; cause !== undefined; cause = (cause as { cause?: unknown }).cause) {
    if (!(cause instanceof AgentError)) return cause instanceof Error ? cause.stack : String(cause);
  }
  return undefined;
}
