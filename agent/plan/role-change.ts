// A role change of an installed node is never an accident: `apply --role worker` on a
// controller would remove its whole control plane (PKI, static pods, etcd's TLS), and a
// bundle applied to a worker would turn it into a controller. Both plan and apply refuse
// such a plan (exit 78) saying what it would remove or add, unless asked with --change-role.

import type { Role } from "../config/types.ts";
import { ConfigError } from "../errors.ts";
import { listIfExists } from "../fsio/read-only.ts";
import type { HostRoot } from "../hostfs/host-root.ts";
import { INSTALL_RECORD, PKI_DIRECTORY } from "../paths.ts";
import { managedDirectoryOf } from "../placement/policy.ts";
import { installedRole } from "./install-record.ts";
import type { Plan } from "./plan.ts";

export const CHANGE_ROLE_FLAG = "--change-role";

/** The role wanted now, and where it came from ("--role", "/etc/typhoon/agent.yaml", "the default"). */
interface RequestedRole {
  role: Role;
  origin: string;
}

/** The role the node was installed as: from its install record, or, when that is damaged, from a non-empty PKI directory. */
function previousRole(host: HostRoot, plan: Plan): Role | undefined {
  if (plan.installed === undefined) return undefined;
  if ("record" in plan.installed) return installedRole(plan.installed.record);
  return listIfExists(host.directory(PKI_DIRECTORY), PKI_DIRECTORY).length > 0 ? "controller" : undefined;
}

/** The refusal of `plan` when it changes the installed role; undefined when it does not. */
export function roleChangeRefusal(host: HostRoot, plan: Plan, requested: RequestedRole): ConfigError | undefined {
  const previous = previousRole(host, plan);
  if (previous === undefined || previous === requested.role) return undefined;
  const removed = countByDirectory(plan.removals.filter((removal) => !removal.legacy).map((removal) => removal.path));
  const created = countByDirectory(plan.files.filter((file) => file.action === "create").map((file) => file.desired.path));
  const effect = [
    ...(removed.length > 0 ? [`remove ${removed.join(", ")}`] : []),
    ...(created.length > 0 ? [`install ${created.join(", ")}`] : []),
  ].join(" and ");
  return new ConfigError(
    `this node is installed as a ${previous} (${INSTALL_RECORD}); applying it as a ${requested.role} (${requested.origin}) would ${effect || "change its kubelet"}`,
    "role",
    `to change the role on purpose, run the same command with ${CHANGE_ROLE_FLAG} (typhoon-agent rollback undoes it); otherwise apply it as a ${previous}`,
  );
}

/** "/etc/kubernetes/pki (24 files), /etc/ssl/etcd/etcd (6 files)": paths counted by the managed directory they lie in. */
function countByDirectory(paths: readonly string[]): string[] {
  const counts = new Map<string, number>();
  for (const file of paths) {
    const directory = managedDirectoryOf(file)?.path ?? file.slice(0, file.lastIndexOf("/"));
    counts.set(directory, (counts.get(directory) ?? 0) + 1);
  }
  return [...counts].map(([directory, count]) => `${directory} (${count} file${count === 1 ? "" : "s"})`);
}
