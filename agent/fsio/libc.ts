// flock(2), syncfs(2) and the extended attributes that hold SELinux labels, which Node
// lacks, called in libc through bun:ffi, so that an apply runs no helper program for them
// (spawning flock(1) and sync(1) cost more than the rest of the lock and the flush). With
// agent/journal/native-socket.ts, the only module of the agent allowed bun:ffi.
//
// libc is opened on first use. Where it cannot be (a libc other than glibc's, an FFI that
// refuses), libc() says so and the callers fall back to flock(1), sync(1) and chcon(1).

import { dlopen, read } from "bun:ffi";
import { ERRNO } from "../errors.ts";

export const LOCK_EX = 2;
export const LOCK_NB = 4;
/** EWOULDBLOCK: another open file description holds the lock. */
export const EWOULDBLOCK = 11;

function openLibc() {
  return dlopen("libc.so.6", {
    // int flock(int fd, int operation)
    flock: { args: ["i32", "i32"], returns: "i32" },
    // int syncfs(int fd)
    syncfs: { args: ["i32"], returns: "i32" },
    // ssize_t lgetxattr(const char *path, const char *name, void *value, size_t size)
    lgetxattr: { args: ["buffer", "buffer", "buffer", "u64"], returns: "i64" },
    // int lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags)
    lsetxattr: { args: ["buffer", "buffer", "buffer", "u64", "i32"], returns: "i32" },
    // int *__errno_location(void): this thread's errno, read right after a call failed.
    __errno_location: { args: [], returns: "ptr" },
  }).symbols;
}

/** Each call returns 0 (or what it read), or the errno it failed with. */
export interface Libc {
  flock(fd: number, operation: number): number;
  syncfs(fd: number): number;
  /** The attribute's value, or the errno. */
  lgetxattr(file: string, name: string): Uint8Array | number;
  lsetxattr(file: string, name: string, value: Uint8Array): number;
}

/** Large enough for any SELinux context (the kernel caps them at a page). */
const XATTR_BUFFER_BYTES = 4096;
const cString = (text: string): Buffer => Buffer.from(`${text}\0`);

/** undefined until first use; null once libc could not be opened (never retried). */
let opened: Libc | null | undefined;

export function libc(): Libc | null {
  if (opened === undefined) opened = bind();
  return opened;
}

function bind(): Libc | null {
  try {
    const symbols = openLibc();
    const errno = (): number => read.i32(symbols.__errno_location()!, 0);
    const outcome = (result: number): number => (result === 0 ? 0 : errno());
    return {
      flock: (fd, operation) => outcome(symbols.flock(fd, operation)),
      syncfs: (fd) => outcome(symbols.syncfs(fd)),
      lgetxattr(file, name) {
        const value = Buffer.alloc(XATTR_BUFFER_BYTES);
        const length = Number(symbols.lgetxattr(cString(file), cString(name), value, value.length));
        return length < 0 ? errno() : value.subarray(0, length);
      },
      lsetxattr: (file, name, value) => outcome(symbols.lsetxattr(cString(file), cString(name), value, value.length, 0)),
    };
  } catch {
    return null;
  }
}

/**
 * `flock(2) failed: ENOLCK (no locks available; errno 37)`: the call and the error as the man
 * pages name them, in words, with the hint of the errno table (errors.ts).
 */
export function describeFailure(call: string, errno: number): { text: string; hint: string | undefined } {
  // Loaded only when a call failed: node:os costs every run a millisecond.
  const { constants } = require("node:os") as typeof import("node:os");
  const name = Object.entries(constants.errno).find(([, value]) => value === errno)?.[0];
  const known = name === undefined ? undefined : ERRNO[name];
  const words = known === undefined ? "" : `${known.words}; `;
  return { text: `${call}(2) failed: ${name ?? "unknown error"} (${words}errno ${errno})`, hint: known?.hint };
}

type SpawnSync = typeof import("node:child_process").spawnSync;

/** spawnSync for the fallbacks: node:child_process is loaded only when libc is not there. */
export const spawnFallback = ((...args: Parameters<SpawnSync>) => (require("node:child_process") as typeof import("node:child_process")).spawnSync(...args)) as SpawnSync;
