// Reads the agent configuration file's bytes, bounded: it must be a regular file (a FIFO or a
// device would block or never end, so it is refused before a byte is read) of at most
// MAX_CONFIG_BYTES (a flat mapping of a dozen keys is a few hundred bytes; a bigger file is
// the wrong file). Either refusal is a ConfigError (exit 78) naming the file.

import * as fs from "node:fs";
import { ConfigError, attempt, fromSystemError } from "../errors.ts";
import { kindOf } from "../fsio/read-only.ts";

export const MAX_CONFIG_BYTES = 1024 * 1024;

/**
 * The file's content; undefined when it does not exist and `mustExist` is false. The
 * default path is never followed through a link (HostRoot resolved it inside the root).
 */
export function readConfigBytes(file: string, mustExist: boolean): Buffer | undefined {
  const action = "read the agent configuration";
  const flags = fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | (mustExist ? 0 : fs.constants.O_NOFOLLOW);
  let fd: number;
  try {
    fd = fs.openSync(file, flags);
  } catch (error) {
    if (!mustExist && (error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw fromSystemError(error, action, file);
  }
  try {
    const stat = attempt(action, file, () => fs.fstatSync(fd));
    if (!stat.isFile()) {
      throw new ConfigError(`${file} is not a regular file (a ${kindOf(stat)}); the configuration is a file of key: value lines`, undefined, "point --config at the file, or replace what stands at the path with one");
    }
    const buffer = Buffer.alloc(MAX_CONFIG_BYTES + 1);
    let length = 0;
    for (let read = -1; read !== 0 && length < buffer.length; length += read) {
      read = attempt(action, file, () => fs.readSync(fd, buffer, length, buffer.length - length, null));
    }
    if (length > MAX_CONFIG_BYTES) {
      throw new ConfigError(`${file} is larger than ${MAX_CONFIG_BYTES / 1024 / 1024} MiB; the configuration is a flat mapping of a few lines`, undefined, "is it the right file?");
    }
    return buffer.subarray(0, length);
  } finally {
    fs.closeSync(fd);
  }
}
