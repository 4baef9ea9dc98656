// The file checks: every path the last apply recorded exists as a regular file with the
// owner and mode apply gives it (policy.ts's fileAccess, with the pod readers derived from
// the installed static pods, exactly as apply derives them), the managed directories keep
// theirs, the rendered kubelet files still hold what the last apply installed, and the
// static pods reference only files that exist.

import * as fs from "node:fs";
import { AgentError } from "../errors.ts";
import type { Accounts } from "../hostfs/accounts.ts";
import { ROOT, type Ownership } from "../fsio/ownership.ts";
import { comparePaths, type HostRoot } from "../hostfs/host-root.ts";
import { STATIC_POD_DIRECTORY } from "../paths.ts";
import { MANAGED_DIRECTORIES, NESTED_DIRECTORY_MODE, fileAccess, managedDirectoryOf, ruleOfInstalledPath, type Identities } from "../placement/policy.ts";
import { analyzeStaticPods, type StaticPodAnalysis } from "../placement/static-pods.ts";
import { formatMode } from "../fsio/ownership.ts";
import type { Finding } from "./findings.ts";

interface FileCheckInput {
  host: HostRoot;
  accounts: Accounts;
  /** Host paths from the install record. */
  installed: readonly string[];
  rendered: readonly ExpectedNodeFile[];
  identities: Identities;
  /** Content of an installed file, or undefined when it cannot be read. */
  read(hostPath: string): Buffer | undefined;
}

/** A file apply renders (kubelet.service, kubelet.yaml) as the last apply installed it. */
export interface ExpectedNodeFile {
  path: string;
  mode: number;
  /** Undefined when the configuration did not load: then only owner and mode are checked. */
  content: string | Buffer | undefined;
}

export function checkFiles(input: FileCheckInput): Finding[] {
  const findings: Finding[] = [];
  const pods = analyzeInstalledPods(input, findings);

  for (const file of input.installed) {
    const rule = ruleOfInstalledPath(file);
    const rendered = input.rendered.find((candidate) => candidate.path === file);
    let expected: Ownership | undefined;
    if (rule !== undefined) {
      // Without the static pods nobody knows who may read a pki secret: only its presence is checked.
      const unknowable = pods === undefined && rule.access === "pki";
      expected = unknowable ? undefined : fileAccess({ path: file, rule }, pods?.readers ?? new Map(), input.identities);
    } else if (rendered !== undefined) {
      expected = { ...ROOT, mode: rendered.mode };
    } else {
      findings.push({ severity: "warning", check: "content", path: file, message: "is in the install record, but this agent neither places nor renders it" });
      continue;
    }
    if (!checkEntry(input, file, "file", expected, findings)) continue;
    const content = rendered?.content === undefined ? undefined : input.read(file);
    if (rendered?.content !== undefined && content !== undefined && !content.equals(Buffer.from(rendered.content))) {
      findings.push({ severity: "warning", check: "content", path: file, message: "differs from what the last apply installed (edited since; the next apply restores it)" });
    }
  }

  for (const directory of directoriesOf(input.installed, input.identities)) checkEntry(input, directory.path, "directory", directory, findings);

  for (const [file, readers] of pods?.references ?? []) {
    if (input.read(file) === undefined && !findings.some((finding) => finding.path === file)) {
      findings.push({ severity: "error", check: "reference", path: file, message: `is read by ${readers.join(", ")}, but does not exist` });
    }
  }
  return findings;
}

/** Who reads which pki file, from the static pods installed now; undefined (and a finding) when one no longer parses. */
function analyzeInstalledPods(input: FileCheckInput, findings: Finding[]): StaticPodAnalysis | undefined {
  const manifests = input.installed.flatMap((file) => {
    const content = ruleOfInstalledPath(file)?.directory === STATIC_POD_DIRECTORY ? input.read(file) : undefined;
    return content === undefined ? [] : [{ asset: file, content }];
  });
  try {
    return analyzeStaticPods(manifests);
  } catch (error) {
    if (!(error instanceof AgentError)) throw error;
    findings.push({ severity: "error", check: "parse", path: STATIC_POD_DIRECTORY, message: error.message });
    return undefined;
  }
}

/** The managed directories holding installed files, and the directories nested below them. */
function directoriesOf(installed: readonly string[], identities: Identities): Array<Ownership & { path: string }> {
  const directories = new Map<string, Ownership & { path: string }>();
  for (const file of installed) {
    const managed = managedDirectoryOf(file);
    if (managed === undefined) continue;
    for (const ancestor of MANAGED_DIRECTORIES) {
      if (managed.path === ancestor.path || managed.path.startsWith(`${ancestor.path}/`)) {
        const owner = ancestor.owner === "etcd" ? identities.etcd : ROOT;
        directories.set(ancestor.path, { path: ancestor.path, uid: owner.uid, gid: owner.gid, mode: ancestor.mode });
      }
    }
    for (let parent = file.slice(0, file.lastIndexOf("/")); parent.length > managed.path.length; parent = parent.slice(0, parent.lastIndexOf("/"))) {
      directories.set(parent, { path: parent, ...ROOT, mode: NESTED_DIRECTORY_MODE });
    }
  }
  return [...directories.values()].sort((a, b) => comparePaths(a.path, b.path));
}

/** Checks one entry's type, and its owner and mode when they are known; false when it is not there to check further. */
function checkEntry(input: FileCheckInput, hostPath: string, kind: "file" | "directory", expected: Ownership | undefined, findings: Finding[]): boolean {
  let stat: fs.Stats;
  try {
    const real = kind === "file" ? input.host.file(hostPath) : input.host.directory(hostPath);
    stat = fs.lstatSync(real);
  } catch (error) {
    if (error instanceof AgentError) {
      findings.push({ severity: "error", check: "symlink", path: hostPath, message: error.message });
    } else if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      findings.push({ severity: "error", check: "missing", path: hostPath, message: `is missing (the last apply installed it)` });
    } else {
      findings.push({ severity: "error", check: "missing", path: hostPath, message: `cannot be inspected: ${(error as Error).message}` });
    }
    return false;
  }
  if (stat.isSymbolicLink()) {
    findings.push({ severity: "error", check: "symlink", path: hostPath, message: `is a symlink; apply installs a real ${kind} here and never follows a link` });
    return false;
  }
  if (kind === "file" ? !stat.isFile() : !stat.isDirectory()) {
    findings.push({ severity: "error", check: "missing", path: hostPath, message: `is not a ${kind === "file" ? "regular file" : "directory"}` });
    return false;
  }
  if (expected === undefined) return true;
  if (stat.uid !== expected.uid || stat.gid !== expected.gid) {
    findings.push({ severity: "error", check: "owner", path: hostPath, message: `is owned by ${input.accounts.ownerName(stat.uid, stat.gid)}, expected ${input.accounts.ownerName(expected.uid, expected.gid)}` });
  }
  if ((stat.mode & 0o7777) !== expected.mode) {
    findings.push({ severity: "error", check: "mode", path: hostPath, message: `has mode ${formatMode(stat.mode & 0o7777)}, expected ${formatMode(expected.mode)}` });
  }
  return true;
}
