// Errors keep their cause, system errors keep their exit codes, and anything that is not an
// AgentError is an internal error (exit 70) whose stack only -v shows; every command's
// --help ends with the one exit-code table.

import { describe, expect, test } from "vitest";
import { AgentError, EXIT_CODES, ExitCode, InternalError, fromSystemError, inPhase } from "../agent/errors.ts";
import { explainFailure } from "../agent/report/console.ts";
import { runAgent } from "./helpers/agent-binary.ts";

function systemError(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: failed, open '/x'`), { code, syscall: "open", errno: -1, path: "/x" });
}

describe("causes", () => {
  test("an AgentError keeps the error behind it", () => {
    const cause = new Error("underneath");
    expect(new AgentError(ExitCode.ioError, "on top", undefined, undefined, { cause }).cause).toBe(cause);
  });

  test("a system error keeps its exit code and becomes the cause", () => {
    const expected: Array<[string, number]> = [["ENOENT", 66], ["EACCES", 73], ["ELOOP", 73], ["EIO", 74], ["ENOSPC", 74]];
    for (const [code, exitCode] of expected) {
      const original = systemError(code);
      const failure = fromSystemError(original, "write", "/etc/x");
      expect({ code, exitCode: failure.exitCode as number }).toEqual({ code, exitCode });
      expect(failure.cause).toBe(original);
      expect(failure.path).toBe("/etc/x");
    }
  });

  test("a failed system call comes with a hint that works on a node, naming the path where it helps", () => {
    const expected: Array<[string, RegExp]> = [
      ["EACCES", /run it as root.*check \/etc\/x .*ls -ld.*lsattr -d.*ls -Zd.*findmnt -T/],
      ["EROFS", /remount it read-write.*findmnt -T/],
      ["ENOTDIR", /a file stands where a directory belongs.*\/etc\/x .*ls -ld/],
      ["ELOOP", /a symlink/],
      ["EIO", /dmesg/],
      ["ENOSPC", /free space/],
      ["ESTALE", /check the disk .*dmesg, df/],
    ];
    for (const [code, hint] of expected) expect({ code, hint: fromSystemError(systemError(code), "write", "/etc/x").hint }).toEqual({ code, hint: expect.stringMatching(hint) });
  });
});

describe("phases", () => {
  const asIo = (error: unknown): AgentError => fromSystemError(error, "apply", "/");

  test("an error leaving a phase names it; the innermost phase wins", async () => {
    const failure = await inPhase("after-commit", () => inPhase("commit", () => Promise.reject(new AgentError(ExitCode.failed, "x")), asIo), asIo).catch((error: unknown) => error);
    expect((failure as AgentError).phase).toBe("commit");
  });

  test("an untranslated system error keeps its exit code; a bug becomes an internal error with its cause", async () => {
    const io = await inPhase("plan", () => {
      throw systemError("EIO");
    }, asIo).catch((error: unknown) => error as AgentError);
    expect({ exitCode: io.exitCode, phase: io.phase, message: io.message }).toEqual({ exitCode: 74, phase: "plan", message: "cannot apply /: EIO (input/output error)" });
    const bug = new TypeError("x is not a function");
    const internal = await inPhase("inputs", () => {
      throw bug;
    }, asIo).catch((error: unknown) => error as AgentError);
    expect(internal).toBeInstanceOf(InternalError);
    expect({ exitCode: internal.exitCode, phase: internal.phase, message: internal.message }).toEqual({ exitCode: 70, phase: "inputs", message: "internal error: x is not a function" });
    expect(internal.cause).toBe(bug);
  });
});

describe("how a failure is told", () => {
  test("a bug: exit 70, its message and a hint to report it; the stack only with -v", () => {
    const bug = new TypeError("cannot read properties of undefined");
    const quiet = explainFailure(bug, false);
    expect(quiet.exitCode).toBe(70);
    expect(quiet.lines[0]).toBe("internal error: cannot read properties of undefined");
    expect(quiet.lines[1]).toMatch(/^hint: this is a bug in typhoon-agent.*-v/);
    expect(quiet.lines).toHaveLength(2);
    const verbose = explainFailure(bug, true);
    expect(verbose.lines.slice(0, 2)).toEqual(quiet.lines);
    expect(verbose.lines[2]).toBe(bug.stack);
  });

  test("bad input: its own code, message and hint, never a stack, not even with -v", () => {
    const input = new AgentError(ExitCode.badBundle, "line 3: asset name is absolute", "fix the key", undefined, { cause: new Error("inner") });
    expect(explainFailure(input, true)).toEqual({ exitCode: 65, lines: ["line 3: asset name is absolute", "hint: fix the key"] });
  });
});

test("every command's --help ends with every exit code", async () => {
  for (const command of [[], ["apply"], ["plan"], ["rollback"], ["verify"], ["unpack"], ["pack"], ["render"]]) {
    const help = await runAgent([...command, "--help"]);
    expect(help.exitCode).toBe(0);
    const epilogue = (help.stdout as string).slice((help.stdout as string).indexOf("Exit codes:"));
    for (const [code, { meaning }] of Object.entries(EXIT_CODES)) expect(epilogue, `${command} ${code}`).toContain(`${code.padEnd(3)} ${meaning}:`);
  }
});
