// `apply` and `plan`: parse → validate → plan → apply → report. Everything that can be
// wrong with the inputs is found before the host is touched; the only writes happen in
// the transaction (transaction.ts), and every outcome ends up in one ApplyReport, which
// the command prints, logs and records in /var/lib/typhoon-agent/result.json.

import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import type { AgentConfig, Runtime } from "../config/types.ts";
import { AgentError, BundleError, ExitCode, fromSystemError } from "../errors.ts";
import { Accounts } from "../hostfs/accounts.ts";
import type { HostRoot } from "../hostfs/host-root.ts";
import { PKI_DIRECTORY } from "../placement/static-pods.ts";
import { SYSTEM_DEPTH } from "../placement/policy.ts";
import type { EventFields, EventName, Reporter } from "../report/events.ts";
import { formatMode } from "../report/format.ts";
import { openBundleInput } from "../unpack/input.ts";
import { readBundleAssets, type BundleAssets } from "../unpack/read-assets.ts";
import { newTransactionId, pruneBackups, writeBackup } from "./backup.ts";
import { computeDesiredState, type RenderedFile } from "./desired-state.ts";
import { acquireLock, type HeldLock } from "./lock.ts";
import { buildPlan, isNoop, type Plan } from "./plan.ts";
import { legacyLeftovers, staleFiles } from "./removals.ts";
import { describe as describeWriter, waitForWriters } from "./bundle-writers.ts";
import { KUBELET_FILES, settleKubelet } from "./kubelet.ts";
import { Transaction, pendingRecovery, recoverInterrupted, removeStrayFiles, stepsOf, type Recovery } from "./transaction.ts";

export const STATE_DIRECTORY = "/var/lib/typhoon-agent";

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

export interface ApplyReport {
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
function emitterFor(dryRun: boolean, reporter: Reporter): Emit {
  return (event, message, fields = {}) => {
    if (!dryRun) reporter.emit(event, message, fields);
  };
}

function newReport(host: HostRoot, dryRun: boolean, startedAt: Date): ApplyReport {
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

function recordFailure(report: ApplyReport, error: unknown, host: HostRoot, emit: Emit): void {
  const failure = error instanceof AgentError ? error : fromSystemError(error, "apply", host.root);
  report.outcome = "failed";
  report.exitCode = failure.exitCode;
  report.error = failure.message;
  if (failure.hint !== undefined) report.hint = failure.hint;
  emit("applyFailed", `typhoon-agent apply failed: ${failure.message}`, {
    TYPHOON_EXIT_CODE: failure.exitCode,
    TYPHOON_ERROR: failure.message,
    ...(failure.path === undefined ? {} : { TYPHOON_PATH: failure.path }),
    ...bundleField(report),
  });
}

const roundMs = (ms: number): number => Math.round(ms * 10) / 10;

/**
 * An apply refused before it had a configuration to run with (a bad agent.yaml, a bundle
 * given to a worker): reported like any failed apply, to the journal and in result.json,
 * so the operator finds it where the other runs are. The run began when the process did.
 */
export function refusedApply(host: HostRoot, dryRun: boolean, error: AgentError, reporter: Reporter): ApplyReport {
  const report = newReport(host, dryRun, new Date(performance.timeOrigin));
  recordFailure(report, error, host, emitterFor(dryRun, reporter));
  report.finishedAt = new Date().toISOString();
  report.durationMs = roundMs(performance.now());
  if (!dryRun) {
    try {
      const stateDirectory = host.directory(STATE_DIRECTORY, SYSTEM_DEPTH);
      ensureStateDirectory(stateDirectory);
      writeResult(stateDirectory, report);
    } catch {
      // The refusal is reported already; a host where even the state directory fails has a second problem.
    }
  }
  return report;
}

export async function runApply(request: ApplyRequest, reporter: Reporter): Promise<ApplyReport> {
  const { host, config } = request;
  const started = performance.now();
  const report: ApplyReport = { ...newReport(host, request.dryRun, new Date()), role: config.role, runtime: request.runtime };
  const emit = emitterFor(request.dryRun, reporter);
  emit("applyStarted", `typhoon-agent apply started (${config.role}, ${request.runtime}${request.bundle === undefined ? "" : `, bundle ${request.bundle}`})`);

  let stateDirectory: string | undefined;
  let lock: HeldLock | undefined;
  try {
    stateDirectory = host.directory(STATE_DIRECTORY, SYSTEM_DEPTH);
    // The agent's own directory exists from the start of an apply, so even a refused bundle
    // leaves its result.json; the managed tree is untouched until the transaction.
    const createdEarly = request.dryRun ? new Set<string>() : ensureStateDirectory(stateDirectory);
    if (request.bundle !== undefined && request.bundle !== "-") {
      const { waitedMs, writers } = waitForWriters(request.bundle, request.lockWaitSeconds);
      if (writers.length > 0) report.warnings.push(`waited ${waitedMs} ms for ${writers.map(describeWriter).join(", ")} to finish writing the bundle`);
    }
    const bundle = request.bundle === undefined ? undefined : readBundle(request.bundle, request.expectSha256);
    if (bundle !== undefined) report.bundle = { path: request.bundle!, sha256: bundle.sha256, bytes: bundle.bytes, assets: bundle.assets.size };

    const accounts = new Accounts(host);
    const desired = computeDesiredState({
      assets: bundle?.assets,
      rendered: request.rendered,
      // Only a bundle brings etcd files; a worker needs no etcd user.
      identities: { etcd: bundle === undefined ? { uid: 0, gid: 0 } : accounts.user(config.etcd_user) },
      allowUnknown: request.allowUnknown,
      bundleSha256: bundle?.sha256,
    });
    report.skippedAssets = desired.skippedAssets;
    for (const skipped of desired.skippedAssets) report.warnings.push(`asset ${skipped} has no place in the placement table; skipped (--allow-unknown)`);

    if (request.dryRun) {
      const pending = pendingRecovery(host, stateDirectory);
      if (pending !== undefined) {
        report.warnings.push(`an interrupted transaction (${pending.id}) will be ${pending.outcome} first by the next apply; this plan starts from the tree as it is now`);
      }
    } else {
      lock = acquireLock(path.join(stateDirectory, "lock"), request.lockWaitSeconds);
      const recovered = recoverAndReport(host, stateDirectory, reporter);
      if (recovered !== undefined) {
        report.recovered = recovered;
        report.warnings.push(`an interrupted transaction (${recovered.id}) was ${recovered.outcome} first`);
      }
      removeStrayFiles(new Set(desired.directories.map((directory) => host.directory(directory.path, directory.systemDepth))));
    }

    const wanted = new Set(desired.files.map((file) => file.path));
    const plan = buildPlan(host, desired, [...legacyLeftovers(host), ...staleFiles(host, wanted)]);
    report.actions = describePlan(host, plan, accounts, createdEarly);

    if (request.dryRun) {
      report.outcome = "planned";
    } else if (isNoop(plan)) {
      report.outcome = "unchanged";
    } else {
      const id = newTransactionId();
      const backup = await writeBackup(host, path.join(stateDirectory!, "backups"), id, plan);
      report.transaction = id;
      const warning = await runTransaction(request, stateDirectory, id, plan, backup, reporter);
      // Named only once it is kept: a rolled-back transaction deletes its backup.
      report.backup = host.display(backup);
      if (warning !== undefined) report.warnings.push(warning);
      pruneBackups(path.join(stateDirectory, "backups"));
      report.outcome = "applied";
    }
    if (!request.dryRun) {
      for (const action of report.actions) emitAction(emit, action);
      consumeBundle(request, report);
      if (request.startKubelet) {
        // A kubelet already running from a replaced unit or configuration must restart to read it.
        const changed = report.actions.some((action) => KUBELET_FILES.includes(action.path) && action.action === "replace");
        report.kubelet = await settleKubelet("apply", changed ? "changed" : "unchanged");
        emit("kubeletStarted", `kubelet.service: ${report.kubelet}`);
      }
    }
    report.exitCode = ExitCode.ok;
  } catch (error) {
    recordFailure(report, error, host, emit);
  } finally {
    lock?.release();
    report.finishedAt = new Date().toISOString();
    report.durationMs = roundMs(performance.now() - started);
  }
  if (report.outcome !== "failed") {
    const counts = countActions(report.actions);
    emit("applyDone", `typhoon-agent apply ${report.outcome}: ${counts}`, {
      TYPHOON_DURATION_MS: report.durationMs,
      TYPHOON_EXIT_CODE: report.exitCode,
      ...bundleField(report),
    });
  }
  if (!request.dryRun && stateDirectory !== undefined) writeResult(stateDirectory, report);
  return report;
}

/** Finishes a transaction a dead process left behind (apply and rollback both), and says so. */
export function recoverAndReport(host: HostRoot, stateDirectory: string, reporter: Reporter): Recovery | undefined {
  const recovered = recoverInterrupted(host, stateDirectory);
  if (recovered !== undefined) {
    reporter.emit("applyRecovered", `typhoon-agent found transaction ${recovered.id} interrupted and ${recovered.outcome} it`, { TYPHOON_ACTION: recovered.outcome });
  }
  return recovered;
}

function bundleField(report: ApplyReport): EventFields {
  return report.bundle === undefined ? {} : { TYPHOON_BUNDLE_SHA256: report.bundle.sha256 };
}

/** Creates the state directory and its missing parents; returns the real paths it created. */
function ensureStateDirectory(stateDirectory: string): Set<string> {
  const created = new Set<string>();
  try {
    for (let directory = stateDirectory; !fs.existsSync(directory); directory = path.dirname(directory)) created.add(directory);
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

async function runTransaction(request: ApplyRequest, stateDirectory: string, id: string, plan: Plan, backup: string, reporter: Reporter): Promise<string | undefined> {
  let signal: string | undefined;
  const onSignal = (received: string): void => {
    signal = received;
  };
  const signals = ["SIGTERM", "SIGINT", "SIGHUP"] as const;
  for (const name of signals) process.on(name, onSignal);
  const transaction = new Transaction({
    host: request.host,
    stateDirectory,
    id,
    steps: stepsOf(plan, id),
    backup,
    hooks: {
      throwIfCancelled: () => {
        if (signal !== undefined) throw new AgentError(ExitCode.failed, `interrupted by ${signal}`);
      },
      ...selinuxLabeling(request.host, plan),
    },
  });
  try {
    return await transaction.run();
  } catch (error) {
    // Rolled back: nothing happened that the backup would undo. A rollback that failed
    // keeps it, since the next apply finishes the transaction from its record.
    if (error instanceof AgentError && error.exitCode === ExitCode.failed) {
      fs.rmSync(backup, { force: true });
      // The "apply failed" entry that follows says why; this one says the host is whole again.
      reporter.emit("rolledBack", `typhoon-agent rolled back transaction ${id}: every path is as it was before the apply`, { TYPHOON_ACTION: "rolled back" });
    }
    throw error;
  } finally {
    for (const name of signals) process.off(name, onSignal);
  }
}

/**
 * With SELinux enforcing on the real host, the pki tree gets the label upstream's
 * `chcon -R -u system_u -t container_file_t` gave it, on the temp files, so every file
 * is labeled before it appears. Never under --root: the label is the host's business.
 */
function selinuxLabeling(host: HostRoot, plan: Plan): { label?: (temps: readonly string[]) => void } {
  if (!host.isRealRoot || !fs.existsSync("/sys/fs/selinux/enforce")) return {};
  const pki = plan.directories.find((step) => step.desired.path === PKI_DIRECTORY)?.realPath;
  return {
    label: (temps) => {
      const targets = [...(pki === undefined ? [] : [pki]), ...temps.filter((temp) => pki !== undefined && temp.startsWith(`${pki}/`))];
      if (targets.length === 0) return;
      const result = spawnSync("chcon", ["-u", "system_u", "-t", "container_file_t", ...targets], { encoding: "utf8" });
      if (result.status !== 0) throw new AgentError(ExitCode.ioError, `chcon failed: ${(result.stderr || String(result.error)).trim()}`);
    },
  };
}

/**
 * The plan as the operator reads it. `createdEarly` are the directories this apply made
 * before planning (its own state directory and missing parents): created by this run,
 * so reported as `plan` reported them, not as unchanged.
 */
function describePlan(host: HostRoot, plan: Plan, accounts: Accounts, createdEarly: ReadonlySet<string>): ReportedAction[] {
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
      path: host.display(step.realPath),
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
function consumeBundle(request: ApplyRequest, report: ApplyReport): void {
  if (request.bundle === undefined || request.bundle === "-" || request.keepBundle) return;
  try {
    if (!fs.lstatSync(request.bundle).isFile()) return;
    fs.rmSync(request.bundle);
  } catch (error) {
    report.warnings.push(`could not remove the bundle ${request.bundle}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
}

/** /var/lib/typhoon-agent/result.json, like Ignition's result file: written atomically, 0600. */
function writeResult(stateDirectory: string, report: ApplyReport): void {
  if (!fs.existsSync(stateDirectory)) return;
  const file = path.join(stateDirectory, "result.json");
  try {
    fs.writeFileSync(`${file}.tmp`, `${JSON.stringify(report, null, 2)}\n`, { mode: 0o600 });
    fs.renameSync(`${file}.tmp`, file);
  } catch {
    // The outcome was already reported; a full disk must not turn success into failure.
  }
}
