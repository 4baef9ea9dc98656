// The SELinux label upstream's layout script gives the pki tree with
// `chcon -u system_u -t container_file_t`, so that containers may read it: the user and type
// of each file's context replaced, its role and level kept. The context is the
// security.selinux extended attribute, read and written through libc (fsio/libc.ts), so an
// apply runs no chcon; where libc cannot be opened, chcon(1) does it, as before.

import { AgentError, ExitCode } from "../errors.ts";
import { describeFailure, libc, spawnFallback, type Libc } from "../fsio/libc.ts";

const ATTRIBUTE = "security.selinux";
const USER = "system_u";
const TYPE = "container_file_t";

/** `user:role:type:level` with the user and type replaced; the level may itself hold colons. */
export function containerFileContext(context: string): string | undefined {
  const [user, role, type, ...level] = context.split(":");
  if (user === undefined || role === undefined || type === undefined || level.length === 0) return undefined;
  return [USER, role, TYPE, ...level].join(":");
}

/** Labels `files` (never following a symlink) for containers; `calls` null: through chcon(1). */
export function labelForContainers(files: readonly string[], calls: Libc | null = libc()): void {
  if (files.length === 0) return;
  if (calls === null) {
    const result = spawnFallback("chcon", ["-u", USER, "-t", TYPE, ...files], { encoding: "utf8" });
    if (result.status !== 0) throw new AgentError(ExitCode.ioError, `chcon failed: ${(result.stderr || String(result.error)).trim()}`);
    return;
  }
  for (const file of files) {
    const current = calls.lgetxattr(file, ATTRIBUTE);
    if (typeof current === "number") {
      const failure = describeFailure("lgetxattr", current);
      throw new AgentError(ExitCode.ioError, `cannot read the SELinux label of ${file}: ${failure.text}`, failure.hint, file);
    }
    const context = Buffer.from(current).toString("latin1").replace(/\0$/, "");
    const next = containerFileContext(context);
    if (next === undefined) throw new AgentError(ExitCode.ioError, `cannot label ${file} for containers: its SELinux context ${JSON.stringify(context)} is not user:role:type:level`, undefined, file);
    // NUL-terminated, as libselinux writes it.
    const errno = calls.lsetxattr(file, ATTRIBUTE, Buffer.from(`${next}\0`, "latin1"));
    if (errno === 0) continue;
    const failure = describeFailure("lsetxattr", errno);
    throw new AgentError(ExitCode.ioError, `cannot label ${file} for containers: ${failure.text}`, failure.hint, file);
  }
}
