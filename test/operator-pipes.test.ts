// Output into a pipe whose reader goes away (`| head -1`, `| head -c 10`, `| true`), for every
// command that writes to standard output: the command ends as it would have with its output
// read to the end (same exit code, same effect), quietly: no "internal error", no EPIPE, no
// stack. A full disk behind standard output is a failure of its own (exit 74), not a trace.

import { execa } from "execa";
import * as path from "node:path";
import { describe, expect, test } from "vitest";
import { AGENT } from "./helpers/agent-binary.ts";
import { makeHost, writeSampleBundle } from "./helpers/host.ts";
import { expectCleanFailure } from "./helpers/operator.ts";
import { recordOutput } from "./helpers/canary.ts";

const isRoot = process.getuid?.() === 0;
const rootTest = isRoot ? test : test.skip;
const ENV = { TYPHOON_AGENT_JOURNAL: "stderr" };

/** Readers that stop early: none at all, one byte, one line, ten bytes. */
const SINKS = ["true", "head -c 1", "head -1", "head -c 10"];

async function shell(script: string): Promise<{ exitCode: number; stderr: string }> {
  const run = await execa("bash", ["-c", `${script}; echo "exit=\${PIPESTATUS[0]}" >&2`], { reject: false, env: ENV });
  recordOutput(script, run.stderr);
  const exitCode = Number(/exit=(\d+)\s*$/.exec(run.stderr)?.[1] ?? -1);
  return { exitCode, stderr: run.stderr.replace(/exit=\d+\s*$/, "") };
}

describe("a reader that closes standard output early", () => {
  rootTest("every command that prints, every early reader: its own exit code, no trace", async () => {
    const root = makeHost();
    const bundle = path.join(root, "home/core/assets");
    await writeSampleBundle(bundle);
    const installed = await execa(AGENT, ["apply", bundle, "--root", root, "--keep-bundle"], { reject: false, env: ENV });
    expect(installed.exitCode).toBe(0);
    const commands = [
      "--help",
      "apply --help",
      "--version",
      `plan ${bundle} --root ${root} -v`,
      `plan ${bundle} --root ${root} --json`,
      `apply ${bundle} --root ${root} --keep-bundle -v`,
      `apply ${bundle} --root ${root} --keep-bundle --json`,
      `verify --root ${root}`,
      `verify --root ${root} --json`,
      `render kubelet --root ${root}`,
      `render config --root ${root}`,
      `render agent-config --root ${root}`,
      `pack ${path.join(root, "etc")}`,
      `plan ${bundle} --root ${root} --role worker --json`,
    ];
    const wrong: string[] = [];
    for (const command of commands) {
      const whole = await shell(`${AGENT} ${command} > /dev/null`);
      for (const sink of SINKS) {
        const cut = await shell(`${AGENT} ${command} | ${sink} > /dev/null`);
        const label = `${command} | ${sink}`;
        if (cut.exitCode !== whole.exitCode) wrong.push(`${label}: exit ${cut.exitCode}, ${whole.exitCode} when read to the end`);
        expect(cut.stderr, label).not.toMatch(/internal error|EPIPE|broken pipe|\n\s+at /);
      }
    }
    expect(wrong).toEqual([]);
  }, 120_000);

  rootTest("standard output on a full disk is exit 74 naming it, never a trace", async () => {
    const root = makeHost();
    for (const command of [`render kubelet --root ${root}`, `render agent-config --root ${root}`, `pack ${path.join(root, "etc")}`]) {
      const full = await shell(`${AGENT} ${command} > /dev/full`);
      expect(full.exitCode, command).toBe(74);
      expect(full.stderr, command).toContain("cannot write standard output");
      expectCleanFailure({ exitCode: full.exitCode, stdout: "", stderr: full.stderr } as never, command);
    }
  });
});
