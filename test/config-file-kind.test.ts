// The configuration file must be a regular file, read with a bound: --config /dev/zero read
// forever, and a FIFO blocks. A device, a FIFO or a directory (as --config, or standing at
// agent.yaml) is refused before a byte is read, exit 78 naming it, and so is a file over
// 1 MiB; verify makes it one config finding and runs every other check.

import { execSync } from "node:child_process";
import * as fs from "node:fs";
import { describe, expect, test } from "vitest";
import { MAX_CONFIG_BYTES } from "../agent/config/read-file.ts";
import type { VerifyResult } from "../agent/verify/findings.ts";
import { runAgent } from "./helpers/agent-binary.ts";
import { makeHost } from "./helpers/host.ts";
import { tempDir } from "./helpers/tree.ts";

const isRoot = process.getuid?.() === 0;
const rootTest = isRoot ? test : test.skip;
const QUIET = { env: { TYPHOON_AGENT_JOURNAL: "stderr" }, timeout: 20_000 };
const MIB = MAX_CONFIG_BYTES;

/** Each form a non-file takes, made at `file` (or an existing one named instead). */
const NOT_FILES: ReadonlyArray<{ form: string; kind: string; make: (file: string) => string }> = [
  { form: "a character device (/dev/zero)", kind: "a character device", make: () => "/dev/zero" },
  { form: "a FIFO", kind: "a FIFO", make: (file) => (execSync(`mkfifo '${file}'`), file) },
  { form: "a directory", kind: "a directory", make: (file) => (fs.mkdirSync(file), file) },
];

const oversized = (file: string): string => (fs.writeFileSync(file, `role: worker\n${"#".repeat(MIB)}\n`), file);

describe("--config that is no regular file, or too large", () => {
  for (const { form, kind, make } of NOT_FILES) {
    rootTest(`${form}: apply and plan refuse it (78, named), verify makes it one finding`, async () => {
      const root = makeHost();
      const config = make(`${tempDir("typhoon-config-kind-")}/agent.yaml`);
      for (const command of ["apply", "plan"]) {
        const run = await runAgent([command, "--root", root, "--role", "worker", ...(command === "apply" ? ["--no-start"] : []), "--config", config], QUIET);
        expect(run.exitCode, `${command}: ${run.stderr}`).toBe(78);
        expect(String(run.stderr)).toContain(`${config} is not a regular file (${kind})`);
      }
      expect((await runAgent(["apply", "--root", root, "--role", "worker", "--no-start"], QUIET)).exitCode).toBe(0);
      fs.chmodSync(`${root}/etc/kubernetes/kubelet.yaml`, 0o666);
      const verify = await runAgent(["verify", "--root", root, "--json", "--config", config], QUIET);
      expect(verify.exitCode, String(verify.stderr)).toBe(1);
      const report = JSON.parse(String(verify.stdout)) as VerifyResult;
      expect(report.findings.map((finding) => `${finding.severity} ${finding.check} ${finding.path}`)).toEqual(["error config " + config, "error mode /etc/kubernetes/kubelet.yaml"]);
      expect(report.findings[0]!.message).toContain(`is not a regular file (${kind})`);
    });
  }

  rootTest("a file over 1 MiB is refused (78); one of exactly 1 MiB loads", async () => {
    const root = makeHost();
    const large = oversized(`${tempDir("typhoon-config-kind-")}/agent.yaml`);
    const refused = await runAgent(["plan", "--root", root, "--config", large], QUIET);
    expect(refused.exitCode, String(refused.stderr)).toBe(78);
    expect(String(refused.stderr)).toContain(`${large} is larger than 1 MiB`);
    const exact = `${tempDir("typhoon-config-kind-")}/agent.yaml`;
    const head = "role: worker\n";
    fs.writeFileSync(exact, `${head}#${"x".repeat(MIB - head.length - 2)}\n`);
    expect(fs.statSync(exact).size).toBe(MIB);
    const loaded = await runAgent(["plan", "--root", root, "--config", exact], QUIET);
    expect(loaded.exitCode, String(loaded.stderr)).toBe(0);
  });
});

describe("agent.yaml that is no regular file, or too large", () => {
  const forms = [...NOT_FILES.filter(({ form }) => !form.includes("/dev/zero")), { form: "over 1 MiB", kind: "", make: oversized }];
  for (const { form, kind, make } of forms) {
    rootTest(`${form}: apply refuses it with 78, naming it`, async () => {
      const root = makeHost();
      fs.mkdirSync(`${root}/etc/typhoon`, { recursive: true });
      make(`${root}/etc/typhoon/agent.yaml`);
      const run = await runAgent(["apply", "--root", root, "--role", "worker", "--no-start"], QUIET);
      expect(run.exitCode, String(run.stderr)).toBe(78);
      expect(String(run.stderr)).toContain(kind === "" ? "agent.yaml is larger than 1 MiB" : `agent.yaml is not a regular file (${kind})`);
    });
  }
});
