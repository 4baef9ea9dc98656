// What apply and rollback say in the journal, and in which words: one entry per event of
// events.ts. Messages and TYPHOON_* fields name paths, owners, modes, digests and
// durations, never the content of a file.

import type { AgentError } from "../errors.ts";
import type { Recovery } from "../transaction/recovery.ts";
import { countActions, type ApplyResult, type ReportedAction } from "./apply-result.ts";
import type { EventFields, EventLog } from "./events.ts";

/** Where `plan`'s events go: nowhere, it changes nothing. */
export const SILENT: EventLog = { emit() {} };

export function logStarted(events: EventLog, result: Pick<ApplyResult, "role" | "runtime">, bundle: string | undefined): void {
  events.emit("applyStarted", `typhoon-agent apply started (${result.role}, ${result.runtime}${bundle === undefined ? "" : `, bundle ${bundle}`})`);
}

export function logAction(events: EventLog, action: ReportedAction): void {
  const fields: EventFields = { TYPHOON_PATH: action.path, TYPHOON_ACTION: action.action, TYPHOON_ASSET: action.source, TYPHOON_OWNER: action.owner, TYPHOON_MODE: action.mode };
  switch (action.action) {
    case "create":
    case "replace":
      events.emit("assetInstalled", `${action.kind === "directory" ? "created directory" : action.action === "create" ? "installed" : "replaced"} ${action.path} (${action.owner} ${action.mode})`, fields);
      return;
    case "unchanged":
      events.emit("assetUnchanged", `unchanged ${action.path}`, fields);
      return;
    case "repair":
      events.emit("permissionRepaired", `repaired ${action.path}: ${action.previous?.owner} ${action.previous?.mode} -> ${action.owner} ${action.mode}`, fields);
      return;
    case "remove":
      events.emit(action.legacy === true ? "legacyMigrated" : "assetRemoved", `removed ${action.path}: ${action.why}`, fields);
      return;
  }
}

export function logFailed(events: EventLog, result: ApplyResult, failure: AgentError): void {
  events.emit("applyFailed", `typhoon-agent apply failed: ${failure.message}`, {
    TYPHOON_EXIT_CODE: failure.exitCode,
    TYPHOON_ERROR: failure.message,
    TYPHOON_PATH: failure.path,
    TYPHOON_PHASE: failure.phase,
    TYPHOON_BUNDLE_SHA256: result.bundle?.sha256,
  });
}

export function logDone(events: EventLog, result: ApplyResult): void {
  events.emit("applyDone", `typhoon-agent apply ${result.outcome}: ${countActions(result.actions)}`, {
    TYPHOON_DURATION_MS: result.durationMs,
    TYPHOON_EXIT_CODE: result.exitCode,
    TYPHOON_BUNDLE_SHA256: result.bundle?.sha256,
  });
}

/** A transaction a dead process left behind, finished by this apply or rollback. */
export function logRecovered(events: EventLog, recovered: Recovery): void {
  const done = recovered.outcome === "rolled back" ? "rolled it back" : "completed it";
  events.emit("applyRecovered", `typhoon-agent found transaction ${recovered.id} interrupted and ${done}`, { TYPHOON_ACTION: recovered.outcome });
}

/** The "apply failed" entry that follows says why; this one says the host is whole again. */
export function logRolledBack(events: EventLog, transaction: string): void {
  events.emit("rolledBack", `typhoon-agent rolled back transaction ${transaction}: every path is as it was before the apply`, { TYPHOON_ACTION: "rolled back" });
}

/** `typhoon-agent rollback` restored backup `name` (at host path `backup`). */
export function logRestored(events: EventLog, backup: string, name: string, counts: { restored: number; removed: number }): void {
  events.emit("rolledBack", `typhoon-agent rollback restored ${name}: ${counts.restored} restored, ${counts.removed} removed`, { TYPHOON_PATH: backup, TYPHOON_ACTION: "rollback" });
}

export function logKubelet(events: EventLog, outcome: string): void {
  events.emit("kubeletStarted", `kubelet.service: ${outcome}`);
}
