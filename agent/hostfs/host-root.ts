// Every path the agent touches goes through HostRoot: host paths ("/etc/kubernetes/pki")
// are resolved inside the root given by --root ("/" on a real host), the way Ignition's
// JoinPath and Docker's EvalSymlinksInScope do. System directories may be symlinks (on
// Fedora CoreOS /opt is a link to var/opt), but their targets are interpreted inside the
// root, so no link can lead out of it. Directories the agent manages, and everything
// below them, must not be symlinks at all: an attacker or a leftover could otherwise
// redirect private keys anywhere (exit 73).

import * as fs from "node:fs";
import * as path from "node:path";
import { AgentError, ExitCode, fromSystemError } from "../errors.ts";

const MAX_LINK_HOPS = 40; // the kernel's limit for one path walk

export class HostRoot {
  /** Absolute, normalized, without a trailing slash ("" for the real root). */
  private readonly prefix: string;
  private readonly resolvedDirectories = new Map<string, string>();

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
   * The real path of host directory `hostDirectory`. Symlinks among its first
   * `systemDepth` components are followed inside the root; any deeper component that is
   * a symlink is an error. Components that do not exist yet are kept as named.
   */
  directory(hostDirectory: string, systemDepth: number): string {
    const key = `${systemDepth}:${hostDirectory}`;
    let real = this.resolvedDirectories.get(key);
    if (real === undefined) {
      real = this.resolve(hostDirectory, systemDepth, true);
      this.resolvedDirectories.set(key, real);
    }
    return real;
  }

  /** The real path of a file whose parent directory follows the rules of directory(). */
  file(hostFile: string, systemDepth: number): string {
    return path.join(this.directory(path.dirname(hostFile), systemDepth), path.basename(hostFile));
  }

  /**
   * The real path of a file the agent only reads (its config, os-release), every link on
   * the way followed inside the root: /etc/os-release is a link to ../usr/lib/os-release.
   */
  readable(hostFile: string): string {
    return this.resolve(hostFile, Number.POSITIVE_INFINITY, false);
  }

  /** A real path shown as the host path an operator knows (the root prefix removed). */
  display(realPath: string): string {
    if (this.prefix === "" || !realPath.startsWith(this.prefix)) return realPath;
    return realPath.slice(this.prefix.length) || "/";
  }

  /** Forgets resolutions; the plan caches them, a new transaction starts fresh. */
  forget(): void {
    this.resolvedDirectories.clear();
  }

  private resolve(hostPath: string, systemDepth: number, directory: boolean): string {
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
      const candidate = `${this.prefix}/${[...resolved, part].join("/")}`;
      let stat: fs.Stats;
      try {
        stat = fs.lstatSync(candidate);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw fromSystemError(error, "inspect", candidate);
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
      if (index >= systemDepth) {
        throw new AgentError(
          ExitCode.cannotCreate,
          `${this.display(candidate)} is a symlink where the agent manages a real ${pending.length > 0 ? "directory" : "path"}`,
          "the agent never follows links into or out of the directories it manages; remove the link and retry",
        );
      }
      if (++hops > MAX_LINK_HOPS) {
        throw new AgentError(ExitCode.cannotCreate, `too many levels of symbolic links resolving ${hostPath}`);
      }
      const target = fs.readlinkSync(candidate);
      if (target.startsWith("/")) resolved.length = 0;
      const expansion = target
        .split("/")
        .filter((piece) => piece !== "" && piece !== ".")
        .map((piece) => ({ part: piece, index: -1 }));
      pending.unshift(...expansion);
    }
    return `${this.prefix}/${resolved.join("/")}`;
  }
}
