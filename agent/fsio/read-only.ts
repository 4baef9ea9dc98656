import * as fs from "node:fs";
import { fromSystemError } from "../errors.ts";

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

/** Opens `file` read-only, never through a symlink, hands the descriptor to `use`, closes it. */
export function withReadOnlyFile<T>(file: string, use: (fd: number) => T): T {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
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

/** The text of `file`, or undefined when it does not exist; any other failure names `shownAs`. */
export function readTextIfExists(file: string, action: string, shownAs: string = file): string | undefined {
  try {
    return fs.readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw fromSystemError(error, action, shownAs);
  }
}
