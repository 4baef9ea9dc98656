import * as fs from "node:fs";
import { AgentError, ExitCode, fromSystemError } from "../errors.ts";

/**
 * lstat of `file` (stat, following a last-component link, with `follow`); undefined when
 * it does not exist. Any other failure is the operator's to see, as an AgentError.
 */
export function statIfExists(file: string, options: { follow?: boolean } = {}): fs.Stats | undefined {
  try {
    return (options.follow === true ? fs.statSync : fs.lstatSync)(file, { throwIfNoEntry: false });
  } catch (error) {
    throw fromSystemError(error, "inspect", file);
  }
}

/**
 * Opens `file` read-only, never through a symlink, hands the descriptor to `use`, closes it.
 * Without blocking: a FIFO left where a file belongs must not hang the agent on its open.
 */
export function withReadOnlyFile<T>(file: string, use: (fd: number) => T): T {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch (error) {
    throw fromSystemError(error, "open", file);
  }
  try {
    return use(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The names in `directory`; none when it does not exist. Any other failure (EACCES, EIO) is
 * an AgentError naming `shownAs`: a directory that cannot be read is not an empty one.
 */
export function listIfExists(directory: string, shownAs: string = directory): string[] {
  try {
    return fs.readdirSync(directory);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return [];
    throw fromSystemError(error, "list", shownAs);
  }
}

/**
 * The text of `file`, or undefined when it does not exist; any other failure names `shownAs`.
 * Only a regular file is read: a symlink as the last component is refused (ELOOP; callers pass
 * a path the path layer resolved, or one where no link may stand), and so is a directory, a
 * FIFO or a device (a FIFO would hang the read).
 */
export function readTextIfExists(file: string, action: string, shownAs: string = file): string | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw fromSystemError(error, action, shownAs);
  }
  try {
    if (!fs.fstatSync(fd).isFile()) {
      throw new AgentError(ExitCode.cannotCreate, `cannot ${action} ${shownAs}: it is not a regular file`, "something else stands where the file belongs: move it away", shownAs);
    }
    return fs.readFileSync(fd, "utf8");
  } catch (error) {
    throw fromSystemError(error, action, shownAs);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Removes `file` (a whole tree with `recursive`) when it is there. rm -f alone is not enough:
 * on a read-only filesystem unlink fails with EROFS even for a name that does not exist, and
 * a clean-up of a temp file never created must not turn into "undoing failed too".
 */
export function removeIfPresent(file: string, options: { recursive?: boolean } = {}): void {
  if (statIfExists(file) === undefined) return;
  fs.rmSync(file, { recursive: options.recursive === true, force: true });
}

/** What an lstat found, in words for a message; undefined when nothing is there. */
export function kindOf(stat: fs.Stats | undefined): string | undefined {
  if (stat === undefined) return undefined;
  if (stat.isFile()) return "regular file";
  if (stat.isDirectory()) return "directory";
  if (stat.isSymbolicLink()) return "symlink";
  if (stat.isFIFO()) return "FIFO";
  if (stat.isCharacterDevice()) return "character device";
  if (stat.isBlockDevice()) return "block device";
  return "socket";
}
