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
  const plan: Array<{ args: string[]; outcome: string }> =
    change === "removed"
      ? [{ args: ["disable", "--now", ...noBlock, UNIT], outcome: "disabled and stopped" }]
      : after === "rollback"
        ? change === "changed"
          ? [{ args: ["try-restart", ...noBlock, UNIT], outcome: "restarted if it was running" }]
          : []
        : change === "changed"
          ? [
              { args: ["enable", UNIT], outcome: "enabled" },
              { args: ["restart", ...noBlock, UNIT], outcome: noBlock.length > 0 ? "enabled, restart queued" : "enabled and restarted" },
            ]
          : [{ args: ["enable", "--now", ...noBlock, UNIT], outcome: noBlock.length > 0 ? "enabled, start queued" : "enabled and started" }];
  await systemctl(["daemon-reload"], after);
  for (const step of plan) await systemctl(step.args, after);
  return plan.at(-1)?.outcome ?? "unchanged";
}

async function systemctl(args: readonly string[], after: "apply" | "rollback"): Promise<void> {
  const { execa } = await import("execa");
  const result = await execa("systemctl", args, { reject: false, all: true });
  if (result.exitCode === 0) return;
  const words = (result.all || result.shortMessage || "").trim();
  throw new AgentError(
    ExitCode.failed,
    `the files are ${after === "apply" ? "installed" : "restored"}, but \`systemctl ${args.join(" ")}\` failed: ${words}`,
    after === "apply" ? "journalctl -u kubelet.service tells why; re-running typhoon-agent apply retries the start" : "journalctl -u kubelet.service tells why",
  );
}
