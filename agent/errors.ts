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
  kubeletNotStarted: 69, // EX_UNAVAILABLE
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
  1: { meaning: "failed", when: "an apply failed and was rolled back (interrupted by a signal, too), or `verify` found an error" },
  2: { meaning: "usage error", when: "an unknown flag or command, a malformed or empty flag value, a bundle given to a worker or none to a controller" },
  65: { meaning: "bad bundle", when: "the message names the bundle line, or the asset" },
  66: { meaning: "no input", when: "the bundle does not exist, `rollback` has no backup, or `verify` finds no install record" },
  67: { meaning: "no such user", when: "the etcd user (`etcd_user`) is in neither passwd file of the host" },
  69: { meaning: "installed, kubelet not started", when: "the files are installed (or restored), but `systemctl` failed to start or restart the kubelet; the hint names the `systemctl` commands still to run" },
  70: { meaning: "internal error", when: "a bug in typhoon-agent, not bad input: please report it (`-v` prints its stack)" },
  73: { meaning: "cannot create", when: "permissions, a read-only filesystem, a symlink in the way, a file where a directory belongs, a path too long, something rollback did not put where it would restore or remove" },
  74: { meaning: "I/O error", when: "reading or writing failed (a full or failing disk), undoing a failed apply failed too, or a transaction a dead run left cannot be completed (its record is set aside)" },
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

/**
 * What a failed system call means, in words (strerror's), and what to do about it: an
 * operator reads "no space left on device" and a hint, never ENOSPC alone. The code itself
 * stays in the message, for searching.
 */
export const ERRNO: Readonly<Record<string, { words: string; hint?: string }>> = {
  // No hint of its own: what to do about a missing file depends on which file (the callers say).
  ENOENT: { words: "no such file or directory" },
  ENOSPC: { words: "no space left on device", hint: "free space on the filesystem that holds it (df -h), then run the command again" },
  EDQUOT: { words: "disk quota exceeded", hint: "free space or raise the quota of the filesystem that holds it, then run the command again" },
  EROFS: { words: "read-only file system", hint: "the filesystem that holds it is mounted read-only: remount it read-write (mount -o remount,rw), or use a --root on a writable one" },
  EACCES: { words: "permission denied", hint: "run it as root (sudo); as root, look at the file's attributes (lsattr) and how its filesystem is mounted" },
  EPERM: { words: "operation not permitted", hint: "run it as root (sudo); as root, an immutable attribute (lsattr, chattr -i) or a security policy refuses it" },
  EIO: { words: "input/output error", hint: "the disk failed a read or a write: look at dmesg and the disk before running the command again" },
  ENAMETOOLONG: { words: "file name too long", hint: "the path is longer than the filesystem allows (PATH_MAX 4096, NAME_MAX 255): use a shorter --root or name" },
  ENOTDIR: { words: "not a directory", hint: "a file stands where a directory belongs: move it away" },
  EISDIR: { words: "is a directory", hint: "a directory stands where a file belongs: move it away" },
  ELOOP: { words: "too many levels of symbolic links", hint: "a symlink points at itself, or the agent met a link where it allows none: remove the link" },
  EEXIST: { words: "file exists", hint: "something else created the path at the same time, or a leftover is in the way: look at it (ls -la), move it away, and run the command again" },
  ENOTEMPTY: { words: "directory not empty", hint: "a directory the agent expected empty holds files someone else put there: look at them (ls -la) and move them away" },
  EXDEV: { words: "invalid cross-device link", hint: "a rename crossed filesystems: a mount point lies inside the tree the agent manages; unmount it, or use a --root on one filesystem" },
  EBUSY: { words: "device or resource busy", hint: "a mount point or a file in use is in the way (findmnt, fuser -v): unmount or stop what holds it, then run the command again" },
  EMFILE: { words: "too many open files", hint: "the process's open-file limit is too low: raise it (ulimit -n, or LimitNOFILE= in the unit) and run the command again" },
  ENFILE: { words: "too many open files in system", hint: "the system's open-file table is full (fs.file-max): close programs or raise the limit, then run the command again" },
  ENOMEM: { words: "cannot allocate memory", hint: "the node is out of memory: free some (free -m, stop what uses it), then run the command again" },
  ENOLCK: { words: "no locks available", hint: "the filesystem that holds /var/lib/typhoon-agent does not lock files (an NFS mount without lockd?): keep that directory on a local filesystem" },
  ENODATA: { words: "no data available", hint: "the file has no SELinux label although SELinux is enabled: relabel it (restorecon -v FILE) and run the command again" },
};

/** "ENOSPC (no space left on device)": a failed call's code with its meaning. */
export function describeErrno(code: string | undefined): string {
  if (code === undefined) return "unknown error";
  const known = ERRNO[code];
  return known === undefined ? code : `${code} (${known.words})`;
}

/** Translates a Node.js system error on `path` into the sysexits code an operator expects, with the errno in words and a hint; keeps it as the cause. */
export function fromSystemError(error: unknown, action: string, path: string): AgentError {
  if (error instanceof AgentError) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const cause = { cause: error };
  // ENOENT keeps the words alone: "cannot read X: no such file or directory" needs no code.
  const message = `cannot ${action} ${path}: ${code === undefined ? messageOf(error) : code === "ENOENT" ? ERRNO.ENOENT!.words : describeErrno(code)}`;
  const hint = systemErrorHint(code, path);
  switch (code) {
    case "ENOENT":
      return new AgentError(ExitCode.noInput, message, hint, path, cause);
    case "EACCES":
    case "EPERM":
    case "EROFS":
    case "EEXIST":
    case "ENOTDIR":
    case "EISDIR":
    case "ELOOP":
    case "ENAMETOOLONG":
      return new AgentError(ExitCode.cannotCreate, message, hint, path, cause);
    default:
      return new AgentError(ExitCode.ioError, message, hint, path, cause);
  }
}

/**
 * The errno's hint, and where to look: a refusal or something in the way is at the path or a
 * directory above it, so the hint names them. A code the table does not know still gets one.
 */
function systemErrorHint(code: string | undefined, path: string): string | undefined {
  if (code === "ENOENT") return undefined; // what to do depends on which file: the callers say
  const hint = (code === undefined ? undefined : ERRNO[code]?.hint) ?? "reading or writing failed: check the disk and its free space (dmesg, df -h)";
  switch (code) {
    case "EACCES":
    case "EPERM":
    case "EROFS":
      return `${hint}; check ${path} and the directories above it: mode and owner (ls -ld), attributes (lsattr -d), SELinux label (ls -Zd), a read-only mount (findmnt -T)`;
    case "EEXIST":
    case "ENOTDIR":
    case "EISDIR":
    case "ELOOP":
      return `${hint}; look at ${path} and the directories above it (ls -ld)`;
    default:
      return hint;
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
