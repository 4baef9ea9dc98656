// Starting the kubelet after a successful apply: `systemctl daemon-reload`, then
// `systemctl enable --now kubelet.service`. Inside typhoon-agent.service (a oneshot ordered
// Before=kubelet.service) a blocking start would wait for our own unit to finish: a
// deadlock. There the start is queued (--no-block) and systemd runs it right after us.

import { AgentError, ExitCode } from "../errors.ts";

export async function startKubelet(): Promise<string> {
  const { execa } = await import("execa");
  const insideUnit = process.env.INVOCATION_ID !== undefined;
  const commands = [["daemon-reload"], ["enable", "--now", ...(insideUnit ? ["--no-block"] : []), "kubelet.service"]];
  for (const args of commands) {
    const result = await execa("systemctl", args, { reject: false, all: true });
    if (result.exitCode !== 0) {
      const words = (result.all || result.shortMessage || "").trim();
      throw new AgentError(
        ExitCode.failed,
        `the files are installed, but \`systemctl ${args.join(" ")}\` failed: ${words}`,
        "journalctl -u kubelet.service tells why; re-running typhoon-agent apply retries the start",
      );
    }
  }
  return insideUnit ? "enabled, start queued" : "enabled and started";
}
