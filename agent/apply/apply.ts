// `apply` and `plan`: parse → validate → plan → apply → report. Everything that can be
// wrong with the inputs is found before the host is touched; the only writes happen in
// the transaction (transaction.ts), and every outcome ends up in one ApplyResult, which
// the command prints, logs and records in /var/lib/typhoon-agent/result.json.

import * as fs from "node:fs";
import * as path from "node:path";
import type { AgentConfig, Runtime } from "../config/types.ts";
import { AgentError, BundleError, ExitCode, fromSystemError } from "../errors.ts";
import { Accounts } from "../hostfs/accounts.ts";
import { realParent, type HostRoot, type RealPath } from "../hostfs/host-root.ts";
import { LOCK_FILE, RESULT_FILE, STATE_DIRECTORY } from "../paths.ts";
import type { EventFields, EventName, EventLog } from "../report/events.ts";
import { formatMode } from "../report/format.ts";
import { openBundleInput } from "../unpack/input.ts";
import { readBundleAssets, type BundleAssets } from "../unpack/read-assets.ts";
import { newTransactionId } from "../transaction/names.ts";
import { pendingRecovery, recoverInterrupted, removeStrayFiles, type Recovery } from "../transaction/record.ts";
import { writeBackup } from "./backup.ts";
import { commitPlan } from "./commit.ts";
import { computeDesiredState, type RenderedFile } from "./desired-state.ts";
import { acquireLock, type HeldLock } from "./lock.ts";
import { buildPlan, isNoop, type Plan } from "./plan.ts";
import { legacyLeftovers, staleFiles } from "./removals.ts";
import { describeWriter, waitForWriters } from "./bundle-writers.ts";
import { NODE_FILE_PATHS } from "../units/node-files.ts";
import { settleKubelet } from "./kubelet.ts";

export interface ApplyRequest {
  host: HostRoot;
  /** Bundle path as given (never rooted), "-" for standard input; undefined on a worker. */
  bundle: string | undefined;
  config: AgentConfig;
  runtime: Runtime;
  /** kubelet.service and kubelet.yaml, rendered from the config. */
  rendered: readonly RenderedFile[];
  dryRun: boolean;
  /** Afterwards systemctl daemon-reload and enable --now kubelet.service (restart when its files changed). */
  startKubelet: boolean;
  keepBundle: boolean;
  allowUnknown: boolean;
  /** Lower-case hex, as the --expect-sha256 check leaves it. */
  expectSha256: string | undefined;
  lockWaitSeconds: number;
}

export type ActionName = "create" | "replace" | "repair" | "unchanged" | "remove";

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
  role?: AgentConfig["role"];
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
}

type Emit = (event: EventName, message: string, fields?: EventFields) => void;

/** plan reports nothing to the journal: it changes nothing. */
function emitterFor(dryRun: boolean, events: EventLog): Emit {
  return (event, message, fields = {}) => {
    if (!dryRun) events.emit(event, message, fields);
  };
}

function newReport(host: HostRoot, dryRun: boolean, startedAt: Date): ApplyResult {
  return {
    command: dryRun ? "plan" : "apply",
    outcome: "failed",
    exitCode: ExitCode.failed,
    root: host.root,
    startedAt: startedAt.toISOString(),
    finishedAt: "",
    durationMs: 0,
    actions: [],
    skippedAssets: [],
    warnings: [],
  };
}

function recordFailure(result: ApplyResult, error: unknown, host: HostRoot, emit: Emit): void {
  const failure = error instanceof AgentError ? error : fromSystemError(error, "apply", host.root);
  result.outcome = "failed";
  result.exitCode = failure.exitCode;
  result.error = failure.message;
  if (failure.hint !== undefined) result.hint = failure.hint;
  emit("applyFailed", `typhoon-agent apply failed: ${failure.message}`, {
    TYPHOON_EXIT_CODE: failure.exitCode,
    TYPHOON_ERROR: failure.message,
    ...(failure.path === undefined ? {} : { TYPHOON_PATH: failure.path }),
    ...bundleField(result),
  });
}

const roundMs = (ms: number): number => Math.round(ms * 10) / 10;

/**
 * An apply refused before it had a configuration to run with (a bad agent.yaml, a bundle
 * given to a worker): reported like any failed apply, to the journal and in result.json,
 * so the operator finds it where the other runs are. The run began when the process did.
 */
export function refusedApply(host: HostRoot, dryRun: boolean, error: AgentError, events: EventLog): ApplyResult {
  const result = newReport(host, dryRun, new Date(performance.timeOrigin));
  recordFailure(result, error, host, emitterFor(dryRun, events));
  result.finishedAt = new Date().toISOString();
  result.durationMs = roundMs(performance.now());
  if (!dryRun) {
    try {
      ensureStateDirectory(host);
      writeResult(host, result);
    } catch {
      // The refusal is reported already; a host where even the state directory fails has a second problem.
    }
  }
  return result;
}

export async function runApply(request: ApplyRequest, events: EventLog): Promise<ApplyResult> {
  const { host, config } = request;
  const started = performance.now();
  const result: ApplyResult = { ...newReport(host, request.dryRun, new Date()), role: config.role, runtime: request.runtime };
  const emit = emitterFor(request.dryRun, events);
  emit("applyStarted", `typhoon-agent apply started (${config.role}, ${request.runtime}${request.bundle === undefined ? "" : `, bundle ${request.bundle}`})`);

  let stateDirectory: RealPath | undefined;
  let lock: HeldLock | undefined;
  try {
    stateDirectory = host.directory(STATE_DIRECTORY);
    // The agent's own directory exists from the start of an apply, so even a refused bundle
    // leaves its result.json; the managed tree is untouched until the transaction.
    const createdEarly = request.dryRun ? new Set<RealPath>() : ensureStateDirectory(host);
    if (request.bundle !== undefined && request.bundle !== "-") {
      const { waitedMs, writers } = waitForWriters(request.bundle, request.lockWaitSeconds);
      if (writers.length > 0) result.warnings.push(`waited ${waitedMs} ms for ${writers.map(describeWriter).join(", ")} to finish writing the bundle`);
    }
    const bundle = request.bundle === undefined ? undefined : readBundle(request.bundle, request.expectSha256);
    if (bundle !== undefined) result.bundle = { path: request.bundle!, sha256: bundle.sha256, bytes: bundle.bytes, assets: bundle.assets.size };

    const accounts = new Accounts(host);
    const desired = computeDesiredState({
      assets: bundle?.assets,
      rendered: request.rendered,
      // Only a bundle brings etcd files; a worker needs no etcd user.
      identities: { etcd: bundle === undefined ? { uid: 0, gid: 0 } : accounts.user(config.etcd_user) },
      allowUnknown: request.allowUnknown,
    });
    result.skippedAssets = desired.skippedAssets;
    for (const skipped of desired.skippedAssets) result.warnings.push(`asset ${skipped} has no place in the placement table; skipped (--allow-unknown)`);

    if (request.dryRun) {
      const pending = pendingRecovery(host);
      if (pending !== undefined) {
        result.warnings.push(`an interrupted transaction (${pending.id}) will be ${pending.outcome} first by the next apply; this plan starts from the tree as it is now`);
      }
    } else {
      lock = acquireLock(host.file(LOCK_FILE), request.lockWaitSeconds);
      const recovered = recoverAndLog(host, events);
      if (recovered !== undefined) {
        result.recovered = recovered;
        result.warnings.push(`an interrupted transaction (${recovered.id}) was ${recovered.outcome} first`);
      }
      removeStrayFiles(new Set(desired.directories.map((directory) => host.directory(directory.path))));
    }

    const wanted = new Set(desired.files.map((file) => file.path));
    const plan = buildPlan(host, desired, [...legacyLeftovers(host), ...staleFiles(host, wanted)]);
    result.actions = describePlan(plan, accounts, createdEarly);

    if (request.dryRun) {
      result.outcome = "planned";
    } else if (isNoop(plan)) {
      result.outcome = "unchanged";
    } else {
      const id = newTransactionId();
      const backup = await writeBackup(host, id, plan);
      result.transaction = id;
      const warning = await commitPlan(host, id, plan, backup, events);
      // Named only once it is kept: a rolled-back transaction deletes its backup.
      result.backup = host.display(backup);
      if (warning !== undefined) result.warnings.push(warning);
      result.outcome = "applied";
    }
    if (!request.dryRun) {
      for (const action of result.actions) emitAction(emit, action);
      consumeBundle(request, result);
      if (request.startKubelet) {
        // A kubelet already running from a replaced unit or configuration must restart to read it.
        const changed = result.actions.some((action) => NODE_FILE_PATHS.includes(action.path) && action.action === "replace");
        result.kubelet = await settleKubelet("apply", changed ? "changed" : "unchanged");
        emit("kubeletStarted", `kubelet.service: ${result.kubelet}`);
      }
    }
    result.exitCode = ExitCode.ok;
  } catch (error) {
    recordFailure(result, error, host, emit);
  } finally {
    lock?.release();
    result.finishedAt = new Date().toISOString();
    result.durationMs = roundMs(performance.now() - started);
  }
  if (result.outcome !== "failed") {
    const counts = countActions(result.actions);
    emit("applyDone", `typhoon-agent apply ${result.outcome}: ${counts}`, {
      TYPHOON_DURATION_MS: result.durationMs,
      TYPHOON_EXIT_CODE: result.exitCode,
      ...bundleField(result),
    });
  }
  if (!request.dryRun && stateDirectory !== undefined) writeResult(host, result);
  return result;
}

/** Finishes a transaction a dead process left behind (apply and rollback both), and says so. */
export function recoverAndLog(host: HostRoot, events: EventLog): Recovery | undefined {
  const recovered = recoverInterrupted(host);
  if (recovered !== undefined) {
    events.emit("applyRecovered", `typhoon-agent found transaction ${recovered.id} interrupted and ${recovered.outcome} it`, { TYPHOON_ACTION: recovered.outcome });
  }
  return recovered;
}

function bundleField(result: ApplyResult): EventFields {
  return result.bundle === undefined ? {} : { TYPHOON_BUNDLE_SHA256: result.bundle.sha256 };
}

/** Creates the state directory and its missing parents; returns the real paths it created. */
function ensureStateDirectory(host: HostRoot): Set<RealPath> {
  const stateDirectory = host.directory(STATE_DIRECTORY);
  const created = new Set<RealPath>();
  try {
    for (let directory = stateDirectory; !fs.existsSync(directory); directory = realParent(directory)) created.add(directory);
    fs.mkdirSync(path.dirname(stateDirectory), { recursive: true, mode: 0o755 });
    fs.mkdirSync(stateDirectory, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw fromSystemError(error, "create", stateDirectory);
  }
  return created;
}

function readBundle(source: string, expectSha256: string | undefined): BundleAssets {
  const input = openBundleInput(source);
  try {
    const bundle = readBundleAssets(input);
    if (expectSha256 !== undefined && bundle.sha256 !== expectSha256) {
      throw new BundleError(
        `bundle sha256 is ${bundle.sha256}, expected ${expectSha256}`,
        undefined,
        "the transfer was truncated or corrupted; copy the bundle again",
      );
    }
    return bundle;
  } finally {
    input.close();
  }
}

/**
 * The plan as the operator reads it. `createdEarly` are the directories this apply made
 * before planning (its own state directory and missing parents): created by this run,
 * so reported as `plan` reported them, not as unchanged.
 */
function describePlan(plan: Plan, accounts: Accounts, createdEarly: ReadonlySet<RealPath>): ReportedAction[] {
  const owner = (uid: number, gid: number): string => accounts.ownerName(uid, gid);
  const previous = (current: { uid: number; gid: number; mode: number } | undefined, action: string): ReportedAction["previous"] =>
    current === undefined || action === "unchanged" ? undefined : { owner: owner(current.uid, current.gid), mode: formatMode(current.mode) };
  const actions: ReportedAction[] = [];
  for (const step of plan.directories) {
    const action = step.action === "unchanged" && createdEarly.has(step.realPath) ? "create" : step.action;
    // An existing system directory (/etc, /opt) is not the agent's to report.
    if (action === "unchanged" && !step.desired.enforced) continue;
    const was = previous(step.current, action);
    actions.push({
      action,
      path: step.desired.path,
      kind: "directory",
      owner: owner(step.desired.uid, step.desired.gid),
      mode: formatMode(step.desired.mode),
      ...(was === undefined || action !== "repair" ? {} : { previous: was }),
    });
  }
  for (const step of plan.files) {
    const was = previous(step.current, step.action);
    actions.push({
      action: step.action,
      path: step.desired.path,
      kind: "file",
      source: step.desired.source,
      owner: owner(step.desired.uid, step.desired.gid),
      mode: formatMode(step.desired.mode),
      size: step.desired.content.length,
      secret: step.desired.secret,
      ...(was === undefined ? {} : { previous: was }),
    });
  }
  for (const step of plan.removals) {
    actions.push({
      action: "remove",
      path: step.path,
      kind: step.kind,
      why: step.why,
      legacy: step.legacy,
      previous: { owner: owner(step.current.uid, step.current.gid), mode: formatMode(step.current.mode) },
    });
  }
  return actions;
}

function emitAction(emit: Emit, action: ReportedAction): void {
  const fields: EventFields = {
    TYPHOON_PATH: action.path,
    TYPHOON_ACTION: action.action,
    ...(action.source === undefined ? {} : { TYPHOON_ASSET: action.source }),
    ...(action.owner === undefined ? {} : { TYPHOON_OWNER: action.owner }),
    ...(action.mode === undefined ? {} : { TYPHOON_MODE: action.mode }),
  };
  switch (action.action) {
    case "create":
    case "replace":
      emit("assetInstalled", `${action.kind === "directory" ? "created directory" : action.action === "create" ? "installed" : "replaced"} ${action.path} (${action.owner} ${action.mode})`, fields);
      return;
    case "unchanged":
      emit("assetUnchanged", `unchanged ${action.path}`, fields);
      return;
    case "repair":
      emit("permissionRepaired", `repaired ${action.path}: ${action.previous?.owner} ${action.previous?.mode} -> ${action.owner} ${action.mode}`, fields);
      return;
    case "remove":
      emit(action.legacy === true ? "legacyMigrated" : "assetRemoved", `removed ${action.path}: ${action.why}`, fields);
      return;
  }
}

export function countActions(actions: readonly ReportedAction[]): string {
  const counts = new Map<string, number>();
  for (const action of actions) counts.set(action.action, (counts.get(action.action) ?? 0) + 1);
  const order: ActionName[] = ["create", "replace", "repair", "remove", "unchanged"];
  const parts = order.filter((name) => counts.has(name)).map((name) => `${counts.get(name)} ${name}`);
  return parts.length === 0 ? "nothing to do" : parts.join(", ");
}

/**
 * The bundle holds every secret of the cluster: once installed, it goes. Only a regular
 * file: a bundle read from a pipe or a device (`<(...)`, /dev/stdin) names no copy to remove.
 */
function consumeBundle(request: ApplyRequest, result: ApplyResult): void {
  if (request.bundle === undefined || request.bundle === "-" || request.keepBundle) return;
  try {
    if (!fs.lstatSync(request.bundle).isFile()) return;
    fs.rmSync(request.bundle);
  } catch (error) {
    result.warnings.push(`could not remove the bundle ${request.bundle}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
}

/** /var/lib/typhoon-agent/result.json, like Ignition's result file: written atomically, 0600. */
function writeResult(host: HostRoot, result: ApplyResult): void {
  try {
    if (!fs.existsSync(host.directory(STATE_DIRECTORY))) return;
    const file = host.file(RESULT_FILE);
    fs.writeFileSync(`${file}.tmp`, `${JSON.stringify(result, null, 2)}\n`, { mode: 0o600 });
    fs.renameSync(`${file}.tmp`, file);
  } catch {
    // The outcome was already reported; a full disk must not turn success into failure.
  }
}
