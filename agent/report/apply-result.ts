// What an apply or a plan reports, as one document: the command prints it (a table, a
// summary line, or JSON with --json), the journal gets an entry per action, and
// /var/lib/typhoon-agent/result.json keeps it. The plan becomes actions here, as the
// operator reads them: host paths, owners by name, modes in octal, never any content.

import type { Role, Runtime } from "../config/types.ts";
import { ExitCode, type AgentError, type Phase } from "../errors.ts";
import type { Ownership } from "../fsio/ownership.ts";
import type { Accounts } from "../hostfs/accounts.ts";
import type { RealPath } from "../hostfs/host-root.ts";
import type { Plan } from "../plan/plan.ts";
import type { Recovery } from "../transaction/recovery.ts";
import { formatMode } from "../fsio/ownership.ts";

type ActionName = "create" | "replace" | "repair" | "unchanged" | "remove";

export interface ReportedAction {
  action: ActionName;
  path: string;
  kind: "file" | "directory" | "symlink";
  /** Bundle asset or renderer; absent for directories and removals. */
  source?: string;
  owner?: string;
  mode?: string;
  size?: number;
  secret?: boolean;
  previous?: { owner: string; mode: string };
  why?: string;
  /** A removal of an older layout's leftover, rather than of a file no longer in the bundle. */
  legacy?: boolean;
}

export interface ApplyResult {
  command: "apply" | "plan";
  outcome: "applied" | "unchanged" | "planned" | "failed";
  exitCode: number;
  root: string;
  /** Absent when the run was refused before its configuration loaded (refusedApply). */
  role?: Role;
  runtime?: Runtime;
  bundle?: { path: string; sha256: string; bytes: number; assets: number };
  transaction?: string;
  backup?: string;
  recovered?: Recovery;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  actions: ReportedAction[];
  skippedAssets: string[];
  kubelet?: string;
  warnings: string[];
  error?: string;
  hint?: string;
  /** The phase a failed apply failed in (inputs, plan, backup, prepare, commit, finish, after-commit). */
  phase?: Phase;
}

/** A result not yet finished: failed until the run says otherwise. */
export function newResult(command: ApplyResult["command"], root: string, startedAt: Date): ApplyResult {
  return {
    command,
    outcome: "failed",
    exitCode: ExitCode.failed,
    root,
    startedAt: startedAt.toISOString(),
    finishedAt: "",
    durationMs: 0,
    actions: [],
    skippedAssets: [],
    warnings: [],
  };
}

export function recordFailure(result: ApplyResult, failure: AgentError): void {
  // A kubelet that did not start leaves the files installed: the outcome says what the run
  // did to them (applied, unchanged), the exit code and error that it did not finish.
  if (failure.exitCode !== ExitCode.kubeletNotStarted) result.outcome = "failed";
  result.exitCode = failure.exitCode;
  result.error = failure.message;
  if (failure.hint !== undefined) result.hint = failure.hint;
  if (failure.phase !== undefined) result.phase = failure.phase;
}

/** Closes the result: when it finished and how long it took since `startedMs` (performance.now()). */
export function finishResult(result: ApplyResult, startedMs: number): void {
  result.finishedAt = new Date().toISOString();
  result.durationMs = Math.round((performance.now() - startedMs) * 10) / 10;
}

/**
 * The plan as the operator reads it. `createdEarly` are the directories this apply made
 * before planning (its own state directory and missing parents): created by this run,
 * so reported as `plan` reported them, not as unchanged.
 */
export function describePlan(plan: Plan, accounts: Accounts, createdEarly: ReadonlySet<RealPath>): ReportedAction[] {
  const shown = (ownership: Ownership): { owner: string; mode: string } => ({ owner: accounts.ownerName(ownership.uid, ownership.gid), mode: formatMode(ownership.mode) });
  const actions: ReportedAction[] = [];
  for (const step of plan.directories) {
    const action = step.action === "unchanged" && createdEarly.has(step.realPath) ? "create" : step.action;
    // An existing system directory (/etc, /opt) is not the agent's to report.
    if (action === "unchanged" && !step.desired.enforced) continue;
    actions.push({ action, path: step.desired.path, kind: "directory", ...shown(step.desired), ...(action === "repair" ? { previous: shown(step.current!) } : {}) });
  }
  for (const step of plan.files) {
    const { path, source, content, secret } = step.desired;
    const changed = step.current !== undefined && step.action !== "unchanged";
    actions.push({ action: step.action, path, kind: "file", source, ...shown(step.desired), size: content.length, secret, ...(changed ? { previous: shown(step.current!) } : {}) });
  }
  for (const step of plan.removals) {
    actions.push({ action: "remove", path: step.path, kind: step.kind, why: step.why, legacy: step.legacy, previous: shown(step.current) });
  }
  return actions;
}

/** "1 create, 52 unchanged": what the actions add up to, in a fixed order. */
export function countActions(actions: readonly ReportedAction[]): string {
  const counts = new Map<string, number>();
  for (const action of actions) counts.set(action.action, (counts.get(action.action) ?? 0) + 1);
  const order: ActionName[] = ["create", "replace", "repair", "remove", "unchanged"];
  const parts = order.filter((name) => counts.has(name)).map((name) => `${counts.get(name)} ${name}`);
  return parts.length === 0 ? "nothing to do" : parts.join(", ");
}
