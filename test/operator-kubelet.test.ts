// systemctl failing after the files are in place, at every call apply and rollback make, in
// every situation that makes a different list of calls: exit 69 ("installed, kubelet not
// started"), the files kept, result.json saying what was applied, and a hint that works on a
// node whose bundle is gone: the systemctl calls still to make, nothing else.

import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, test } from "vitest";
import { applyOnOverlay } from "./helpers/overlay-host.ts";

const isRoot = process.getuid?.() === 0;
const rootTest = isRoot ? test : test.skip;

/** Runs before the one under test succeed; its systemctl calls fail from call `failAt` on. */
const situations: Array<{ name: string; before: string[]; run: string; calls: string[] }> = [
  { name: "first install", before: [], run: "apply ASSETS", calls: ["daemon-reload", "enable --now kubelet.service"] },
  { name: "kubelet.yaml changed", before: ["apply ASSETS --keep-bundle"], run: "apply ASSETS --cluster-dns-service-ip 10.3.0.53", calls: ["daemon-reload", "enable kubelet.service", "restart kubelet.service"] },
  { name: "nothing changed", before: ["apply ASSETS --keep-bundle"], run: "apply ASSETS", calls: ["daemon-reload", "enable --now kubelet.service"] },
  { name: "rollback of a changed kubelet.yaml", before: ["apply ASSETS --keep-bundle", "apply ASSETS --keep-bundle --cluster-dns-service-ip 10.3.0.53"], run: "rollback", calls: ["daemon-reload", "try-restart kubelet.service"] },
  { name: "rollback of the first install", before: ["apply ASSETS --keep-bundle"], run: "rollback", calls: ["daemon-reload", "disable --now kubelet.service"] },
];

describe("systemctl fails after the files are installed", () => {
  for (const situation of situations) {
    rootTest(`${situation.name}: at each of its ${situation.calls.length} systemctl calls, exit 69 with the calls still to make`, async () => {
      for (let failAt = 1; failAt <= situation.calls.length; failAt++) {
        const label = `${situation.name}, systemctl call ${failAt} fails`;
        // The stub fails the run given SYSTEMCTL_FAIL_AT from that call of it on.
        const stub = `echo "$*" >> $LOG\n[ -z "$SYSTEMCTL_FAIL_AT" ] && exit 0\necho x >> $LOG.counted\n[ $(grep -c . $LOG.counted) -ge $SYSTEMCTL_FAIL_AT ] && { echo "Job for kubelet.service failed." >&2; exit 1; }\nexit 0`;
        const run = await applyOnOverlay(stub, [...situation.before, `SYSTEMCTL_FAIL_AT=${failAt} ${situation.run}`]);
        if (run === undefined) return;
        expect(run.exitCodes.slice(0, situation.before.length), `${label}: the runs before`).toEqual(situation.before.map(() => 0));
        expect(run.exitCode, `${label}\n${run.stderr}`).toBe(69);
        const hint = run.stderr.split("\n").find((line) => line.startsWith("typhoon-agent: hint: systemctl status kubelet.service"));
        expect(hint, label).toBeDefined();
        expect(hint, label).toContain(situation.calls.slice(failAt - 1).map((call) => `systemctl ${call}`).join(" && "));
        expect(hint, label).not.toMatch(/typhoon-agent (apply|plan)|assets/);
        expect(run.stderr, label).not.toMatch(/internal error|rolled back:/);
        if (situation.run.startsWith("apply")) {
          const result = JSON.parse(fs.readFileSync(path.join(run.work, "upper/var/lib/typhoon-agent/result.json"), "utf8")) as { outcome: string; exitCode: number; phase: string };
          expect(result, label).toMatchObject({ exitCode: 69, phase: "after-commit" });
          expect(["applied", "unchanged"], label).toContain(result.outcome);
          expect(fs.existsSync(path.join(run.work, "upper/etc/kubernetes/kubelet.yaml")), `${label}: the files stay`).toBe(true);
        }
      }
    }, 120_000);
  }
});
