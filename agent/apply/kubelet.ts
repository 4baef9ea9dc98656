// Bringing the kubelet in line with its installed files, on the real host only.
//
//   after apply     daemon-reload; enable --now kubelet.service, or enable + restart when
//                   apply changed kubelet.service or kubelet.yaml: a running kubelet reads
//                   neither again by itself.
//   after rollback  daemon-reload; restart when the kubelet's files were restored, or
//                   disable --now when the rollback removed kubelet.service (it undid the
//                   first install).
//
// Inside typhoon-agent.service (a oneshot ordered Before=kubelet.service) a blocking start
// would wait for our own unit to finish: a deadlock. There the start is queued (--no-block)
// and systemd runs it right after us.

import { AgentError, ExitCode } from "../errors.ts";

const UNIT = "kubelet.service";

export type KubeletChange = "unchanged" | "changed" | "removed";

/** Runs the systemctl calls for `change`; returns what happened, as reported ("enabled and restarted"). */
export async function settleKubelet(after: "apply" | "rollback", change: KubeletChange): Promise<string> {
  const noBlock = process.env.INVOCATION_ID !== undefined ? ["--no-block"] : [];
  const plan: Array<{ args: string[]; outcome: string }> = [{ args: ["daemon-reload"], outcome: "" }, ...callsFor(after, change, noBlock)];
  for (const [index, step] of plan.entries()) await systemctl(step.args, after, plan.slice(index));
  return plan.length === 1 ? "unchanged" : plan.at(-1)!.outcome;
}

function callsFor(after: "apply" | "rollback", change: KubeletChange, noBlock: string[]): Array<{ args: string[]; outcome: string }> {
  if (change === "removed") return [{ args: ["disable", "--now", ...noBlock, UNIT], outcome: "disabled and stopped" }];
  if (after === "rollback") return change === "changed" ? [{ args: ["try-restart", ...noBlock, UNIT], outcome: "restarted if it was running" }] : [];
  if (change === "unchanged") return [{ args: ["enable", "--now", ...noBlock, UNIT], outcome: noBlock.length > 0 ? "enabled, start queued" : "enabled and started" }];
  return [
    { args: ["enable", UNIT], outcome: "enabled" },
    { args: ["restart", ...noBlock, UNIT], outcome: noBlock.length > 0 ? "enabled, restart queued" : "enabled and restarted" },
  ];
}

/**
 * One systemctl call. A failure is exit 69: the files are in place and stay, so the hint is
 * what works on the node as it is, without the bundle apply consumed: why, then the calls
 * still to make (`remaining`, this one first), by hand.
 */
async function systemctl(args: readonly string[], after: "apply" | "rollback", remaining: ReadonlyArray<{ args: string[] }>): Promise<void> {
  const { execa } = await import("execa");
  const result = await execa("systemctl", args, { reject: false, all: true });
  if (result.exitCode === 0) return;
  const words = (result.all || result.shortMessage || "").trim();
  const byHand = remaining.map((step) => `systemctl ${step.args.filter((arg) => arg !== "--no-block").join(" ")}`).join(" && ");
  throw new AgentError(
    ExitCode.kubeletNotStarted,
    `the files are ${after === "apply" ? "installed" : "restored"}, but \`systemctl ${args.join(" ")}\` failed: ${words}`,
    `systemctl status ${UNIT} and journalctl -u ${UNIT} tell why; once that is fixed, run ${byHand} (the files stay as they are; no apply is needed)`,
  );
}
