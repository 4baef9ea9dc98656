// The commit of an apply: the plan as the steps of one transaction (transaction/), carried out.

import { removeIfPresent } from "../fsio/read-only.ts";
import type { HostRoot, RealPath } from "../hostfs/host-root.ts";
import type { Plan } from "../plan/plan.ts";
import { logRolledBack } from "../report/apply-journal.ts";
import type { EventLog } from "../report/events.ts";
import { SiblingNames } from "../transaction/names.ts";
import { chmodStep, mkdirStep, removeStep, writeStep, type Step } from "../transaction/steps.ts";
import { RolledBackError, runTransaction } from "../transaction/transaction.ts";

/** The plan as the ordered steps of transaction `names`: directories, files, removals, then repaired directory modes. */
function stepsOf(plan: Plan, names: SiblingNames): Step[] {
  const steps: Step[] = [];
  for (const directory of plan.directories) {
    if (directory.action === "create") steps.push(mkdirStep(directory.realPath, directory.desired));
  }
  for (const file of plan.files) {
    if (file.action !== "unchanged") steps.push(writeStep(names, file.realPath, file.desired.content, file.desired, { replacing: file.action !== "create" }));
  }
  for (const removal of plan.removals) steps.push(removeStep(names, removal.realPath));
  for (const directory of plan.directories) {
    if (directory.action === "repair") steps.push(chmodStep(directory.realPath, directory.desired, directory.current!));
  }
  return steps;
}

/** Carries out `plan` as transaction `id`, whose backup `backup` is already written; resolves with the clean-up's warning, if any. */
export async function commitPlan(host: HostRoot, id: string, plan: Plan, backup: RealPath, events: EventLog): Promise<string | undefined> {
  try {
    return await runTransaction({ host, id, steps: stepsOf(plan, new SiblingNames(id)), backup, command: "apply" });
  } catch (error) {
    // Rolled back: nothing happened that the backup would undo. A rollback that failed
    // keeps it, since the next apply finishes the transaction from its record.
    if (error instanceof RolledBackError) {
      removeIfPresent(backup);
      logRolledBack(events, id);
    }
    throw error;
  }
}
