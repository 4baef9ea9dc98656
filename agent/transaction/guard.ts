// What surrounds every transaction, apply's and rollback's alike: signals that stop it at
// the next step boundary (so it is rolled back, never left half-done), and the SELinux
// label every new file under the pki directory needs before it becomes visible.

import * as fs from "node:fs";
import { AgentError, ExitCode } from "../errors.ts";
import type { HostRoot, RealPath } from "../hostfs/host-root.ts";
import { PKI_DIRECTORY } from "../paths.ts";
import { labelForContainers } from "./selinux-label.ts";

const SIGNALS = ["SIGTERM", "SIGINT", "SIGHUP"] as const;

export interface Interruption {
  /** Lets pending signal handlers run, then throws (exit 1) if a signal arrived. */
  checkpoint(): Promise<void>;
  release(): void;
}

/** Catches SIGTERM, SIGINT and SIGHUP until release(); the transaction checks between steps. */
export function catchSignals(): Interruption {
  let received: string | undefined;
  const onSignal = (signal: string): void => {
    received = signal;
  };
  for (const name of SIGNALS) process.on(name, onSignal);
  return {
    async checkpoint() {
      await new Promise((resolve) => setImmediate(resolve));
      if (received !== undefined) throw new AgentError(ExitCode.failed, `interrupted by ${received}`);
    },
    release() {
      for (const name of SIGNALS) process.off(name, onSignal);
    },
  };
}

/**
 * With SELinux on the real host (selinuxfs mounted), the pki tree gets the label upstream's
 * `chcon -R -u system_u -t container_file_t` gave it (selinux-label.ts), on the temp files, so every file
 * is labeled before it appears. Never under --root: the label is the host's business.
 * Undefined when there is nothing to label.
 */
export function selinuxLabeller(host: HostRoot): ((temps: readonly RealPath[]) => void) | undefined {
  if (!host.isRealRoot || !fs.existsSync("/sys/fs/selinux/enforce")) return undefined;
  const pki = host.directory(PKI_DIRECTORY);
  return (temps) => {
    labelForContainers([...(fs.existsSync(pki) ? [pki] : []), ...temps.filter((temp) => temp.startsWith(`${pki}/`))]);
  };
}
