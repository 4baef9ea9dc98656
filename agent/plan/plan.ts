// The plan: what the apply would do to every path, decided by comparing the desired state
// (and what older applies and layouts left behind, removals.ts) with what is on the host.
// Reading only; `plan` and `apply --dry-run` stop here.

import * as fs from "node:fs";
import { AgentError, ExitCode, fromSystemError } from "../errors.ts";
import { ownershipOf, sameOwnership, type Ownership } from "../fsio/ownership.ts";
import { statIfExists } from "../fsio/read-only.ts";
import type { HostRoot, RealPath } from "../hostfs/host-root.ts";
import type { DesiredDirectory, DesiredFile, DesiredState } from "./desired-state.ts";
import { readInstallRecord } from "./install-record.ts";
import { legacyLeftovers, staleFiles, type RemovalCandidate } from "./removals.ts";

interface CurrentState extends Ownership {
  size: number;
  mtimeMs: number;
}

type FileAction = "create" | "replace" | "repair" | "unchanged";
type DirectoryAction = "create" | "repair" | "unchanged";

interface FileStep {
  action: FileAction;
  desired: DesiredFile;
  realPath: RealPath;
  current: CurrentState | undefined;
}

interface DirectoryStep {
  action: DirectoryAction;
  desired: DesiredDirectory;
  realPath: RealPath;
  current: CurrentState | undefined;
}

interface RemovalStep extends RemovalCandidate {
  action: "remove";
  realPath: RealPath;
  kind: "file" | "directory" | "symlink";
  current: CurrentState;
}

export interface Plan {
  directories: DirectoryStep[];
  files: FileStep[];
  removals: RemovalStep[];
  /** What the install record says was installed before, or what is wrong with it. */
  installed: ReturnType<typeof readInstallRecord>;
}

export function buildPlan(host: HostRoot, desired: DesiredState): Plan {
  const installed = readInstallRecord(host);
  const directories = desired.directories.map((directory) => planDirectory(host, directory));
  const files = desired.files.map((file) => planFile(host, file));
  const wanted = new Set(desired.files.map((file) => file.path));
  const previous = installed !== undefined && "record" in installed ? installed.record : undefined;
  const removals = [...legacyLeftovers(host), ...staleFiles(previous, wanted)].flatMap((candidate) => planRemoval(host, candidate));
  return { directories, files, removals, installed };
}

/** True when the apply would change nothing on the host. */
export function isNoop(plan: Plan): boolean {
  return (
    plan.removals.length === 0 &&
    plan.directories.every((step) => step.action === "unchanged") &&
    plan.files.every((step) => step.action === "unchanged")
  );
}

function planDirectory(host: HostRoot, desired: DesiredDirectory): DirectoryStep {
  const realPath = host.directory(desired.path);
  const current = inspect(realPath);
  if (current === undefined) return { action: "create", desired, realPath, current };
  const drifted = desired.enforced && !sameOwnership(current.state, desired);
  return { action: drifted ? "repair" : "unchanged", desired, realPath, current: current.state };
}

function planFile(host: HostRoot, desired: DesiredFile): FileStep {
  const realPath = host.file(desired.path);
  const current = inspect(realPath);
  if (current === undefined) return { action: "create", desired, realPath, current };
  if (current.stat.isSymbolicLink()) {
    throw new AgentError(ExitCode.cannotCreate, `${desired.path} is a symlink; the agent never writes through links`, "remove the link (a masked unit is a link to /dev/null) and retry");
  }
  if (!current.stat.isFile()) {
    throw new AgentError(ExitCode.cannotCreate, `${desired.path} exists and is not a regular file`);
  }
  const action: FileAction = !sameContent(realPath, current.stat, desired.content)
    ? "replace"
    : sameOwnership(current.state, desired)
      ? "unchanged"
      : "repair";
  return { action, desired, realPath, current: current.state };
}

function planRemoval(host: HostRoot, candidate: RemovalCandidate): RemovalStep[] {
  const realPath = host.file(candidate.path);
  const current = inspect(realPath);
  if (current === undefined) return [];
  const kind = current.stat.isSymbolicLink() ? "symlink" : current.stat.isDirectory() ? "directory" : "file";
  return [{ ...candidate, action: "remove", realPath, kind, current: current.state }];
}

function inspect(realPath: string): { stat: fs.Stats; state: CurrentState } | undefined {
  const stat = statIfExists(realPath);
  if (stat === undefined) return undefined;
  return { stat, state: { ...ownershipOf(stat), size: stat.size, mtimeMs: stat.mtimeMs } };
}

function sameContent(realPath: string, stat: fs.Stats, content: Buffer): boolean {
  if (stat.size !== content.length) return false;
  try {
    return fs.readFileSync(realPath).equals(content);
  } catch (error) {
    throw fromSystemError(error, "read", realPath);
  }
}
