// The plan as a person reads it: one aligned row per path (action, path, owner, mode,
// size), what changes first, unchanged paths folded into a count unless asked for.
// Contents are never shown; a secret is marked as one.

import { comparePaths } from "../hostfs/host-root.ts";
import { countActions, type ApplyResult, type ReportedAction } from "./apply-result.ts";
import { counted, formatBytes, formatColumns } from "./format.ts";

const ORDER = ["remove", "replace", "repair", "create", "unchanged"] as const;

export function formatPlanTable(result: ApplyResult, options: { showUnchanged: boolean }): string {
  const shown = result.actions
    .filter((action) => options.showUnchanged || action.action !== "unchanged")
    .sort((a, b) => ORDER.indexOf(a.action) - ORDER.indexOf(b.action) || comparePaths(a.path, b.path));
  const rows = shown.map(row);
  const lines = rows.length === 0 ? [] : formatColumns(["ACTION", "PATH", "OWNER", "MODE", "SIZE", "NOTE"], rows, [4]);
  const hidden = result.actions.length - shown.length;
  if (hidden > 0) lines.push(`(${counted(hidden, "unchanged path")} not listed; --verbose lists them)`);
  lines.push(summaryLine(result));
  return `${lines.join("\n")}\n`;
}

export function summaryLine(result: ApplyResult): string {
  const verb = { planned: "plan", applied: "applied", unchanged: "unchanged", failed: "failed" }[result.outcome];
  const bundle = result.bundle === undefined ? "" : `, bundle sha256 ${result.bundle.sha256.slice(0, 12)}…`;
  return `${verb}: ${countActions(result.actions)} (${result.role}, ${result.runtime}${bundle}) in ${result.durationMs} ms`;
}

function row(action: ReportedAction): string[] {
  const path = action.kind === "directory" ? `${action.path}/` : action.path;
  const notes: string[] = [];
  if (action.secret) notes.push("secret");
  if (action.previous !== undefined && action.action !== "create") notes.push(`was ${action.previous.owner} ${action.previous.mode}`);
  if (action.why !== undefined) notes.push(action.why);
  return [action.action, path, action.owner ?? "", action.mode ?? "", action.size === undefined ? "" : formatBytes(action.size), notes.join("; ")];
}
