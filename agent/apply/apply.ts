// `apply` and `plan`, as named phases in order, like Ignition's list of stages:
//
//   inputs        the state directory (apply), the bundle, the users, the desired state
//   plan          the lock and an interrupted run finished (apply), then every path compared
//   backup        what the plan replaces, removes or repairs, into a tar (apply)
//   prepare, commit, finish
//                 the transaction (transaction/transaction.ts)
//   after-commit  journal entries, old backups, the consumed bundle, the kubelet
//
// Everything wrong with the inputs is found before the host is touched. Whatever fails
// leaves an AgentError that names its phase; the outcome is one ApplyResult, which the
// command prints, the journal gets and result.json keeps (docs/design.md, "apply and plan").

import { AgentError, ExitCode, InternalError, fromSystemError, inPhase, type Phase } from "../errors.ts";
import type { HostRoot, RealPath } from "../hostfs/host-root.ts";
import { BACKUP_DIRECTORY, RESULT_FILE } from "../paths.ts";
import { refuseOverlongPaths } from "../plan/limits.ts";
import { buildPlan, isNoop, type Plan } from "../plan/plan.ts";
import { CHANGE_ROLE_FLAG, roleChangeRefusal } from "../plan/role-change.ts";
import { SILENT, logDone, logFailed, logStarted } from "../report/apply-journal.ts";
import { describePlan, finishResult, newResult, recordFailure, type ApplyResult } from "../report/apply-result.ts";
import type { EventLog } from "../report/events.ts";
import { catchSignals, type Interruption } from "../transaction/guard.ts";
import { newTransactionId } from "../transaction/names.ts";
import { afterCommit } from "./after-commit.ts";
import { writeBackup } from "./backup.ts";
import { commitPlan } from "./commit.ts";
import { readInputs, type Inputs } from "./inputs.ts";
import type { HeldLock } from "./lock.ts";
import type { ApplyRequest } from "./request.ts";
import { claimStateDirectory, takeOverState, warnPendingRecovery, writeResult } from "./state.ts";

/** A run's result, and the error it failed with (for -v, which prints an internal error's stack). */
export interface ApplyOutcome {
  result: ApplyResult;
  failure: AgentError | undefined;
}

interface Run {
  request: ApplyRequest;
  result: ApplyResult;
  events: EventLog;
  lock?: HeldLock;
}

export async function runApply(request: ApplyRequest, events: EventLog): Promise<ApplyOutcome> {
  const started = performance.now();
  const result = { ...newResult(request.dryRun ? "plan" : "apply", request.host.root, new Date()), role: request.config.role, runtime: request.runtime };
  const run: Run = { request, result, events: request.dryRun ? SILENT : events };
  logStarted(run.events, result, request.bundle);
  // An apply catches SIGTERM, SIGINT and SIGHUP from here until its result is written, so
  // an interruption at any phase still ends in an "apply failed" entry and a result.json;
  // plan changes nothing, and a signal ends it as it ends any program.
  const signals = request.dryRun ? undefined : catchSignals();
  let failure: AgentError | undefined;
  try {
    await (signals === undefined ? planOnly(run) : install(run, signals));
    result.exitCode = ExitCode.ok;
  } catch (error) {
    failure = error instanceof AgentError ? error : new InternalError(error);
    recordFailure(result, failure);
    logFailed(run.events, result, failure);
  } finally {
    run.lock?.release();
    finishResult(result, started);
  }
  if (failure === undefined) logDone(run.events, result);
  if (!request.dryRun) writeResult(request.host, result);
  signals?.release();
  return { result, failure };
}

/** `plan`: what an apply would do, from the tree as it is now. Nothing is written, not even the result. */
async function planOnly(run: Run): Promise<void> {
  const inputs = await phase(run, "inputs", () => readInputs(run.request, run.result));
  await phase(run, "plan", () => {
    warnPendingRecovery(run.request.host, run.result);
    planChanges(run, inputs, new Set());
  });
  run.result.outcome = "planned";
}

/**
 * `apply`: every phase, in order. A caught signal stops it at the end of inputs and plan,
 * and inside the transaction (which then takes back what it did); once the transaction
 * committed, the apply finishes and says a signal came.
 */
async function install(run: Run, signals: Interruption): Promise<void> {
  const { request } = run;
  const { inputs, createdEarly } = await phase(run, "inputs", async () => {
    // The agent's own directory exists from the start, so even a refused bundle leaves its
    // result.json; the managed tree is untouched until the transaction.
    const createdEarly = claimStateDirectory(request.host);
    const inputs = await readInputs(request, run.result);
    await signals.checkpoint();
    return { inputs, createdEarly };
  });
  const plan = await phase(run, "plan", async () => {
    run.lock = await takeOverState(request.host, inputs.desired, request.lockWaitSeconds, run.result, run.events);
    const plan = planChanges(run, inputs, createdEarly);
    await signals.checkpoint();
    return plan;
  });
  if (isNoop(plan)) run.result.outcome = "unchanged";
  else await commit(run, plan);
  await phase(run, "after-commit", () => afterCommit(request, run.result, run.events));
  if (signals.signal !== undefined) run.result.warnings.push(`${signals.signal} came after the files were committed; the apply finished`);
}

function planChanges(run: Run, inputs: Inputs, createdEarly: ReadonlySet<RealPath>): Plan {
  const { host, config, changeRole, roleOrigin } = run.request;
  refuseOverlongPaths(host, inputs.desired);
  const plan = buildPlan(host, inputs.desired);
  if (plan.installed !== undefined && "damaged" in plan.installed) {
    run.result.warnings.push(
      `${plan.installed.damaged}: files an earlier apply installed that this one does not are left in place; this apply writes a new record (to have them removed, put back an intact record from an earlier backup in ${BACKUP_DIRECTORY} and apply again)`,
    );
  }
  const roleChange = roleChangeRefusal(host, plan, { role: config.role, origin: roleOrigin });
  if (roleChange !== undefined && !changeRole) throw roleChange;
  if (roleChange !== undefined) run.result.warnings.push(`the role changes, as asked with ${CHANGE_ROLE_FLAG}: ${roleChange.message}`);
  run.result.actions = describePlan(plan, inputs.accounts, createdEarly);
  return plan;
}

/** The backup, then the transaction, whose own errors name their phase (prepare, commit). */
async function commit(run: Run, plan: Plan): Promise<void> {
  const { host } = run.request;
  const id = newTransactionId();
  const backup = await phase(run, "backup", () => writeBackup(host, id, plan));
  run.result.transaction = id;
  const warning = await phase(run, "commit", () => commitPlan(host, id, plan, backup, run.events));
  // Named only once it is kept: a rolled-back transaction deletes its backup.
  run.result.backup = host.display(backup);
  if (warning !== undefined) run.result.warnings.push(warning);
  run.result.outcome = "applied";
}

/** A system error nobody translated is reported against the root, as "cannot apply /: EIO". */
function phase<T>(run: Run, name: Phase, work: () => T | Promise<T>): Promise<T> {
  return inPhase(name, work, (error) => fromSystemError(error, "apply", run.request.host.root));
}

/**
 * An apply refused before it had a configuration to run with (a bad agent.yaml, a bundle
 * given to a worker): reported like any failed apply, to the journal and in result.json,
 * so the operator finds it where the other runs are. The run began when the process did.
 */
export function refusedApply(host: HostRoot, dryRun: boolean, error: AgentError, events: EventLog): ApplyResult {
  const result = newResult(dryRun ? "plan" : "apply", host.root, new Date(performance.timeOrigin));
  recordFailure(result, error);
  logFailed(dryRun ? SILENT : events, result, error);
  finishResult(result, 0); // since the process started
  if (!dryRun) {
    try {
      claimStateDirectory(host);
      writeResult(host, result);
    } catch (error) {
      // The refusal is reported already; a host where even the state directory fails has a second problem, said alongside.
      if (!(error instanceof AgentError)) throw error;
      result.warnings.push(`the refusal is not in ${RESULT_FILE}: ${error.message}`);
    }
  }
  return result;
}
