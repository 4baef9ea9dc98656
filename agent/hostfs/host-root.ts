// The path layer. Every path the agent touches goes through HostRoot, the way Ignition's
// JoinPath and Docker's EvalSymlinksInScope do: callers name a host path as an operator
// knows it ("/opt/bootstrap/assets/x") and get the real path below --root ("/" on a real
// host). Which leading components may be symlinks is the placement policy's to say, not the
// caller's: the system directories above a managed directory (on Fedora CoreOS /opt is a
// link to var/opt), whose targets are interpreted inside the root, so no link can lead out
// of it; a managed directory, and everything below it, must not be a link at all (exit 73),
// or a leftover could redirect private keys anywhere. Real paths have a type of their own,
// so the two kinds of path cannot be mixed up; display() is the one way back.

import * as fs from "node:fs";
import * as path from "node:path";
import { AgentError, ExitCode, attempt } from "../errors.ts";
import { statIfExists } from "../fsio/read-only.ts";
import { systemComponentCount } from "../placement/policy.ts";

declare const realPathBrand: unique symbol;
/** A path on the node as an operator knows it: absolute, normalized. Any string but a RealPath. */
export type HostPath = string & { readonly [realPathBrand]?: never };
/** Where a host path really is on this machine: below --root, system links resolved. */
export type RealPath = string & { readonly [realPathBrand]: true };

/** `name` inside the real directory `directory`: a temp file, a child found by readdir. */
export function realChild(directory: RealPath, name: string): RealPath {
  return path.join(directory, name) as RealPath;
}

export function realParent(real: RealPath): RealPath {
  return path.dirname(real) as RealPath;
}

/**
 * Byte order of two paths (code units, the same for the ASCII of every path the agent
 * manages), as `sort` orders them with LC_ALL=C. localeCompare would load ICU's collator
 * first: a millisecond and a half of every run that sorts.
 */
export function comparePaths(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const MAX_LINK_HOPS = 40; // the kernel's limit for one path walk

export class HostRoot {
  /** Absolute, normalized, without a trailing slash ("" for the real root). */
  private readonly prefix: string;
  private readonly resolvedDirectories = new Map<HostPath, RealPath>();

  constructor(root: string) {
    const absolute = path.resolve(root);
    this.prefix = absolute === "/" ? "" : absolute;
  }

  get isRealRoot(): boolean {
    return this.prefix === "";
  }

  /** "/" or the --root directory. */
  get root(): string {
    return this.prefix === "" ? "/" : this.prefix;
  }

  /**
   * The real path of host directory `hostDirectory`. Links among its system components
   * (placement/policy.ts) are followed inside the root; a deeper component that is a link
   * is an error. Components that do not exist yet are kept as named.
   */
  directory(hostDirectory: HostPath): RealPath {
    let real = this.resolvedDirectories.get(hostDirectory);
    if (real === undefined) {
      real = this.resolve(hostDirectory, systemComponentCount(hostDirectory), true);
      this.resolvedDirectories.set(hostDirectory, real);
    }
    return real;
  }

  /** The real path of a file in host directory dirname(`hostFile`); the file itself, link or not, is never followed. */
  file(hostFile: HostPath): RealPath {
    return realChild(this.directory(path.posix.dirname(hostFile)), path.posix.basename(hostFile));
  }

  /**
   * The real path of a file the agent only reads (its config, os-release), every link on
   * the way followed inside the root: /etc/os-release is a link to ../usr/lib/os-release.
   */
  readable(hostFile: HostPath): RealPath {
    return this.resolve(hostFile, Number.POSITIVE_INFINITY, false);
  }

  /** A real path as the host path it is (the root prefix removed): for records and messages. */
  display(real: RealPath): HostPath {
    if (this.prefix === "" || !real.startsWith(this.prefix)) return real as string;
    return real.slice(this.prefix.length) || "/";
  }

  private resolve(hostPath: HostPath, systemComponents: number, directory: boolean): RealPath {
    if (!path.isAbsolute(hostPath) || hostPath.split("/").includes("..")) {
      throw new Error(`internal: host path ${hostPath} must be absolute and normalized`);
    }
    // Each pending component remembers its index in the original path (-1 for components
    // that came from a link target, which only system components can produce).
    const pending = hostPath
      .split("/")
      .filter((part) => part !== "" && part !== ".")
      .map((part, index) => ({ part, index }));
    const resolved: string[] = [];
    let hops = 0;
    while (pending.length > 0) {
      const { part, index } = pending.shift()!;
      if (part === "..") {
        resolved.pop(); // clamped at the root: a link cannot climb out of it
        continue;
      }
      const candidate = `${this.prefix}/${[...resolved, part].join("/")}` as RealPath;
      const stat = statIfExists(candidate);
      if (stat === undefined) {
        resolved.push(part, ...pending.map((rest) => rest.part));
        break;
      }
      if (!stat.isSymbolicLink()) {
        if (!stat.isDirectory() && (directory || pending.length > 0)) {
          throw new AgentError(ExitCode.cannotCreate, `${this.display(candidate)} is not a directory`, `the agent needs ${hostPath} as a directory`);
        }
        resolved.push(part);
        continue;
      }
      if (index >= systemComponents) {
        throw new AgentError(
          ExitCode.cannotCreate,
          `${this.display(candidate)} is a symlink where the agent manages a real ${pending.length > 0 ? "directory" : "path"}`,
          "the agent never follows links into or out of the directories it manages; remove the link and retry",
        );
      }
      if (++hops > MAX_LINK_HOPS) {
        throw new AgentError(ExitCode.cannotCreate, `too many levels of symbolic links resolving ${hostPath}`);
      }
      const target = attempt("read the link", candidate, () => fs.readlinkSync(candidate));
      if (target.startsWith("/")) resolved.length = 0;
      const expansion = target
        .split("/")
        .filter((piece) => piece !== "" && piece !== ".")
        .map((piece) => ({ part: piece, index: -1 }));
      pending.unshift(...expansion);
    }
    return `${this.prefix}/${resolved.join("/")}` as RealPath;
  }
}
