// Limits that depend on the target, checked before the first write: every path an apply
// creates (each file, and the temp and undo names beside it) must fit the kernel's PATH_MAX
// and each of its components NAME_MAX, below --root and through the system links above the
// managed directories (/opt is var/opt on Fedora CoreOS). An asset name under 4096 bytes can
// become too long there; found in the transaction, it would fail half-way.

import { AgentError, BundleError, ExitCode } from "../errors.ts";
import type { HostRoot } from "../hostfs/host-root.ts";
import { managedDirectoryOf } from "../placement/policy.ts";
import { LONGEST_SIBLING_NAME } from "../transaction/names.ts";
import type { DesiredState } from "./desired-state.ts";

/** Linux's limits (linux/limits.h): bytes of a path with its terminating NUL, and of one name. */
const PATH_MAX = 4096;
const NAME_MAX = 255;

/**
 * Refuses the desired state when a file, or the agent's temporary name beside it, would not
 * fit: exit 65 naming the bundle line for an asset, 73 for a file the agent renders (only a
 * --root deep enough does that). Real paths are measured without resolving what lies below
 * a managed directory, which is never a link and may not exist yet.
 */
export function refuseOverlongPaths(host: HostRoot, desired: DesiredState): void {
  for (const file of desired.files) {
    const slash = file.path.lastIndexOf("/");
    const managed = managedDirectoryOf(file.path)?.path ?? file.path.slice(0, slash);
    const directory = `${host.directory(managed)}${file.path.slice(managed.length, slash)}`;
    const longestName = Math.max(Buffer.byteLength(file.path.slice(slash + 1)), LONGEST_SIBLING_NAME.length);
    const bytes = Buffer.byteLength(directory) + 1 + longestName + 1;
    const longComponent = file.path.split("/").find((part) => Buffer.byteLength(part) > NAME_MAX);
    if (bytes <= PATH_MAX && longComponent === undefined) continue;
    const why = longComponent !== undefined ? `a name of ${Buffer.byteLength(longComponent)} bytes (NAME_MAX is ${NAME_MAX})` : `${bytes} bytes with the temporary name beside it (PATH_MAX is ${PATH_MAX}, ${host.root} included)`;
    if (file.line !== undefined) {
      throw new BundleError(`asset ${file.source} would be installed as ${file.path}, too long for the filesystem: ${why}`, file.line, "shorten the asset's name in the Terraform asset map (or use a shorter --root)");
    }
    throw new AgentError(ExitCode.cannotCreate, `${file.path} is too long below ${host.root}: ${why}`, "use a shorter --root");
  }
}
