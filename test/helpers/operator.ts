// What every operator-mistake and hostile-state case asserts about a run that failed: a
// documented exit code other than "internal error", and never a stack trace.

import { expect } from "vitest";
import { EXIT_CODES, ExitCode } from "../../agent/errors.ts";
import type { AgentResult } from "./agent-binary.ts";

/** The exit codes the README lists for a failure: every one but success and "internal error" (a bug). */
const FAILURE_CODES = Object.keys(EXIT_CODES).map(Number).filter((code) => code !== ExitCode.ok && code !== ExitCode.internal);

/** No run may end in a stack trace or an exit code the README does not list. */
export function expectCleanFailure(result: AgentResult, label: string): void {
  const output = `${String(result.stdout)}\n${String(result.stderr)}`;
  expect(output, label).not.toMatch(/internal error|\n\s+at .*\(|\bat <anonymous>/);
  expect(FAILURE_CODES, `${label}: exit ${result.exitCode}\n${output}`).toContain(result.exitCode ?? -1);
}
