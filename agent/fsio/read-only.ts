import * as fs from "node:fs";
import { fromSystemError } from "../errors.ts";

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
