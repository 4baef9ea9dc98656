// runApply in-process against a scratch host, with an event recorder: for the tests that
// look at the transaction's inner workings. The CLI tests run the compiled binary.

import { runApply } from "../../agent/apply/apply.ts";
import type { ApplyRequest } from "../../agent/apply/request.ts";
import type { ApplyResult } from "../../agent/report/apply-result.ts";
import { defaultConfig } from "../../agent/config/keys.ts";
import type { AgentConfig } from "../../agent/config/types.ts";
import { HostRoot } from "../../agent/hostfs/host-root.ts";
import type { EventFields, EventName, Priority, EventLog } from "../../agent/report/events.ts";
import { recordOutput } from "./canary.ts";

export interface RecordedEvent {
  event: EventName;
  message: string;
  fields: EventFields;
  priority: Priority | undefined;
}

export class EventRecorder implements EventLog {
  readonly events: RecordedEvent[] = [];
  emit(event: EventName, message: string, fields: EventFields = {}, priority?: Priority): void {
    recordOutput(`in-process ${event} entry`, `${message} ${JSON.stringify(fields)}`);
    this.events.push({ event, message, fields, priority });
  }
  named(event: EventName): RecordedEvent[] {
    return this.events.filter((entry) => entry.event === event);
  }
}

export const TEST_CONFIG: AgentConfig = { ...defaultConfig(), runtime: "podman" };

export const KUBELET_UNIT = "[Unit]\nDescription=test kubelet\n[Service]\nExecStart=/bin/true\n";

/** What applyIn runs: a controller apply of ROOT/home/core/assets, keeping the bundle. */
export function applyRequest(root: string, overrides: Partial<ApplyRequest> = {}): ApplyRequest {
  return {
    host: new HostRoot(root),
    bundle: `${root}/home/core/assets`,
    config: TEST_CONFIG,
    roleOrigin: "the default role",
    changeRole: false,
    runtime: "podman",
    rendered: [{ path: "/etc/systemd/system/kubelet.service", content: KUBELET_UNIT, mode: 0o644, source: "kubelet.service" }],
    dryRun: false,
    startKubelet: false,
    keepBundle: true,
    allowUnknown: false,
    expectSha256: undefined,
    lockWaitSeconds: 1,
    ...overrides,
  };
}

export async function applyIn(root: string, overrides: Partial<ApplyRequest> = {}): Promise<{ report: ApplyResult; recorder: EventRecorder }> {
  const recorder = new EventRecorder();
  const { result: report } = await runApply(applyRequest(root, overrides), recorder);
  return { report, recorder };
}
