// Every failure the agent reports is an AgentError: it carries the process exit code
// (sysexits.h, as SPEC section 8 lists them) and points at the input that caused it, so
// the CLI can print one precise line and exit without a stack trace.

export const ExitCode = {
  ok: 0,
  failed: 1, // the apply failed and was rolled back
  usage: 2,
  badBundle: 65, // EX_DATAERR
  noInput: 66, // EX_NOINPUT
  noUser: 67, // EX_NOUSER
  cannotCreate: 73, // EX_CANTCREAT
  ioError: 74, // EX_IOERR
  busy: 75, // EX_TEMPFAIL: another apply holds the lock
  noPermission: 77, // EX_NOPERM: verify run by a user who cannot read the keys
  badConfig: 78, // EX_CONFIG
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export class AgentError extends Error {
  readonly exitCode: ExitCodeValue;
  /** What the operator can do about it; printed on its own line. */
  readonly hint: string | undefined;
  /** The file the failure is about, when there is one (the journal's TYPHOON_PATH). */
  readonly path: string | undefined;

  constructor(exitCode: ExitCodeValue, message: string, hint?: string, path?: string) {
    super(message);
    this.name = new.target.name;
    this.exitCode = exitCode;
    this.hint = hint;
    this.path = path;
  }
}

/** The bundle is malformed; `line` is the 1-based line of the bundle that is wrong. */
export class BundleError extends AgentError {
  readonly line: number | undefined;
  constructor(message: string, line?: number, hint?: string) {
    super(ExitCode.badBundle, line === undefined ? message : `line ${line}: ${message}`, hint);
    this.line = line;
  }
}

/** A setting in the agent config (or its flag) is wrong; `key` names it. */
export class ConfigError extends AgentError {
  readonly key: string | undefined;
  constructor(message: string, key?: string, hint?: string) {
    super(ExitCode.badConfig, key === undefined ? message : `${key}: ${message}`, hint);
    this.key = key;
  }
}

export class UsageError extends AgentError {
  constructor(message: string, hint?: string) {
    super(ExitCode.usage, message, hint);
  }
}

/** Translates a Node.js system error on `path` into the sysexits code an operator expects. */
export function fromSystemError(error: unknown, action: string, path: string): AgentError {
  if (error instanceof AgentError) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const reason = error instanceof Error ? error.message : String(error);
  switch (code) {
    case "ENOENT":
      return new AgentError(ExitCode.noInput, `cannot ${action} ${path}: no such file or directory`, undefined, path);
    case "EACCES":
    case "EPERM":
    case "EROFS":
    case "EEXIST":
    case "ENOTDIR":
    case "EISDIR":
    case "ELOOP":
      return new AgentError(ExitCode.cannotCreate, `cannot ${action} ${path}: ${code}`, undefined, path);
    default:
      return new AgentError(ExitCode.ioError, `cannot ${action} ${path}: ${code ?? reason}`, undefined, path);
  }
}
