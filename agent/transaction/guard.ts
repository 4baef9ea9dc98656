// What surrounds every transaction, apply's and rollback's alike: signals that stop it at
// the next step boundary (so it is rolled back, never left half-done), caught by the command
// for its whole run (unpack and pack too); and the SELinux label every new file under the
// pki directory needs before it becomes visible.

import * as fs from "node:fs";
import { AgentError, ExitCode } from "../errors.ts";
import type { HostRoot, RealPath } from "../hostfs/host-root.ts";
import { PKI_DIRECTORY } from "../paths.ts";
import { labelForContainers } from "./selinux-label.ts";

const SIGNALS = ["SIGTERM", "SIGINT", "SIGHUP"] as const;

/** The first signal caught since the outermost catchSignals(), shared by every holder. */
let received: string | undefined;
let holders = 0;
const waiting = new Set<(signal: string) => void>();

function onSignal(signal: string): void {
  received ??= signal;
  for (const wake of waiting) wake(signal);
}

export interface Interruption {
  /** Lets pending signal handlers run, then throws (exit 1) if a signal arrived. */
  checkpoint(): Promise<void>;
  /** The signal caught so far, without throwing: for work past its point of no return. */
  readonly signal: string | undefined;
  release(): void;
}

/** What a caught signal ends a run with: nothing past the last checkpoint was done, or it was taken back. */
export function interruptedBy(signal: string): AgentError {
  return new AgentError(ExitCode.failed, `interrupted by ${signal}`, "nothing it changed is left changed: run it again when it may run");
}

/**
 * Catches SIGTERM, SIGINT and SIGHUP until release(), so a run stops at its next checkpoint
 * (between phases, between transaction steps) instead of dying half-way. Holders nest: an
 * apply catches for its whole run, its transaction again inside it, and both see the same signal.
 */
export function catchSignals(): Interruption {
  if (holders++ === 0) for (const name of SIGNALS) process.on(name, onSignal);
  let released = false;
  return {
    async checkpoint() {
      await new Promise((resolve) => setImmediate(resolve));
      if (received !== undefined) throw interruptedBy(received);
    },
    get signal() {
      return received;
    },
    release() {
      if (released) return;
      released = true;
      if (--holders > 0) return;
      for (const name of SIGNALS) process.off(name, onSignal);
      received = undefined;
    },
  };
}

/**
 * Waits up to `ms`, or less when a caught signal arrives (then throws it): a wait that polls
 * (for an upload to finish, for the lock) stays interruptible.
 */
export async function pause(ms: number): Promise<void> {
  let wake: ((signal: string) => void) | undefined;
  const signalled = new Promise<string>((resolve) => {
    wake = resolve;
    waiting.add(resolve);
  });
  try {
    const signal = received ?? (await Promise.race([signalled, new Promise<undefined>((resolve) => setTimeout(resolve, ms))]));
    if (signal !== undefined) throw interruptedBy(signal);
  } finally {
    waiting.delete(wake!);
  }
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
