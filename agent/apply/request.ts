// What an apply is asked to do: the command builds it from flags and the configuration.

import type { AgentConfig, Runtime } from "../config/types.ts";
import type { HostRoot } from "../hostfs/host-root.ts";
import type { RenderedFile } from "../plan/desired-state.ts";

export interface ApplyRequest {
  host: HostRoot;
  /** Bundle path as given (never rooted), "-" for standard input; undefined on a worker. */
  bundle: string | undefined;
  config: AgentConfig;
  /** Where the role came from, for the refusal of a role change: "--role", the file, "the default". */
  roleOrigin: string;
  /** --change-role: a plan that changes the installed role goes ahead. */
  changeRole: boolean;
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
