// Running the host tools the boot test drives (mmdebstrap, Ignition, systemd-nspawn, QEMU,
// debugfs, journalctl): always asynchronously (the test's own HTTP server must keep serving
// Ignition meanwhile), always with a time limit, and a failure always says what ran and how
// it ended.

import { execa } from "execa";
import * as fs from "node:fs";

export interface RunOptions {
  /** Killed (TERM, then KILL 10 s later) when it takes longer. */
  timeoutSeconds: number;
  /** Also written to this file, for a look after the test. */
  logFile?: string;
  /** The whole environment (none of this process's is passed on), PATH included. */
  env?: Record<string, string>;
  cwd?: string;
  /** A non-zero exit is returned instead of thrown. */
  allowFailure?: boolean;
  input?: string | Buffer;
}

export interface RunResult {
  exitCode: number;
  timedOut: boolean;
  /** stdout and stderr, interleaved. */
  output: string;
}

export async function run(command: string, args: readonly string[], options: RunOptions): Promise<RunResult> {
  const result = await execa(command, args, {
    reject: false,
    all: true,
    timeout: options.timeoutSeconds * 1000,
    forceKillAfterDelay: 10_000,
    stripFinalNewline: false,
    maxBuffer: 256 * 1024 * 1024,
    ...(options.env === undefined ? {} : { env: options.env, extendEnv: false }),
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    ...(options.input === undefined ? { stdin: "ignore" as const } : { input: options.input }),
  });
  const output = typeof result.all === "string" ? result.all : "";
  if (options.logFile !== undefined) fs.writeFileSync(options.logFile, output);
  const outcome: RunResult = { exitCode: result.exitCode ?? -1, timedOut: result.timedOut, output };
  if (!options.allowFailure && (outcome.exitCode !== 0 || outcome.timedOut)) {
    throw new Error(`${describeRun(command, args, outcome, options)}\n${tail(output, 30)}`);
  }
  return outcome;
}

function describeRun(command: string, args: readonly string[], result: RunResult, options: RunOptions): string {
  const how = result.timedOut ? `timed out after ${options.timeoutSeconds} s` : `exited ${result.exitCode}`;
  const log = options.logFile === undefined ? "" : ` (log: ${options.logFile})`;
  return `${[command, ...args].join(" ").slice(0, 300)}: ${how}${log}`;
}

export function tail(text: string, lines: number): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}
