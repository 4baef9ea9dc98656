// Terminal output goes straight to file descriptors 1 and 2: Bun builds the
// process.stdout/stderr stream objects lazily, and that alone costs a boot-time tool
// several milliseconds.

import { AgentError, ExitCode, InternalError, fromSystemError, stackOf, type ExitCodeValue } from "../errors.ts";
import { isClosedPipe, writeAll } from "../fsio/write-all.ts";

/** A line for the operator on standard error. */
export function say(line: string): void {
  try {
    writeAll(2, Buffer.from(`typhoon-agent: ${line}\n`));
  } catch {
    // A closed standard error must not turn a finished apply into a failure.
  }
}

/** Set once a reader has closed standard output (`plan | head -1`): nothing more is written there. */
let outputClosed = false;

/**
 * Output for the operator or a program (tables, JSON, rendered units) on standard output.
 * A reader that stops reading (`| head -1`, `| true`) is not a failure of the command: the
 * rest is dropped and the command ends as it would have, its exit code unchanged. Any other
 * write error (`> /dev/full`) is: the output was asked for and is lost (exit 74).
 */
export function print(text: string): void {
  if (outputClosed) return;
  try {
    writeAll(1, Buffer.from(text.endsWith("\n") ? text : `${text}\n`));
  } catch (error) {
    if (!isClosedPipe(error)) throw fromSystemError(error, "write", "standard output");
    outputClosed = true;
  }
}

/**
 * The line saying what a command did (applied, rolled back, unpacked), on standard output.
 * What it reports is done: a line that cannot be written (`> /dev/full`) is said on standard
 * error instead, and never turns the run into a failure after the fact.
 */
export function sayDone(line: string): void {
  try {
    print(line);
  } catch (error) {
    say(line);
    say(`warning: ${error instanceof AgentError ? error.message : String(error)}`);
  }
}

/**
 * The --json document of a run that did its work (an apply installed, a rollback restored).
 * A standard output that refuses it (`> /dev/full`) is still exit 74, since the document asked
 * for is lost, but the message says the run succeeded and `keep` says where its report is kept:
 * never "run the command again", which for a rollback would undo one more apply.
 */
export function printDone(text: string, command: string, keep: string): void {
  try {
    print(text);
  } catch (error) {
    if (!(error instanceof AgentError)) throw error;
    throw new AgentError(error.exitCode, `the ${command} succeeded, but its JSON report was lost: ${error.message}`, `do not run the ${command} again${keep}`, error.path, { cause: error });
  }
}

/**
 * How a failed command ends: its message and hint, one line each, and for an internal error
 * (a bug, exit 70) the stack of what was thrown, under -v only: no input reaches a stack trace.
 */
export function explainFailure(error: unknown, verbose: boolean): { exitCode: ExitCodeValue; lines: string[] } {
  const failure = error instanceof AgentError ? error : new InternalError(error);
  const lines = [failure.message];
  if (failure.hint !== undefined) lines.push(`hint: ${failure.hint}`);
  const stack = failure.exitCode === ExitCode.internal ? stackOf(failure) : undefined;
  if (verbose && stack !== undefined) lines.push(stack);
  return { exitCode: failure.exitCode, lines };
}
