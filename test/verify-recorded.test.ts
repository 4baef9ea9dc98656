// verify compares the kubelet files with what the last apply installed, from the
// configuration its install record holds (flags, --config F and agent.yaml as they were),
// not with what agent.yaml alone would render now; it warns when agent.yaml now differs from
// that, and every hint it prints is a command that works on that node: on a worker, the
// flags the install was made with; on a controller, whose bundle the apply consumed, the
// bundle delivered again or a rollback. Each hint is followed here and shown to work.

import * as fs from "node:fs";
import * as path from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { EVENTS } from "../agent/report/events.ts";
import type { VerifyResult } from "../agent/verify/findings.ts";
import { runAgent } from "./helpers/agent-binary.ts";
import { makeHost, writeSampleBundle } from "./helpers/host.ts";
import { tempDir } from "./helpers/tree.ts";

const isRoot = process.getuid?.() === 0;
const rootTest = isRoot ? test : test.skip;
const QUIET = { env: { TYPHOON_AGENT_JOURNAL: "stderr" } };
const KUBELET_SERVICE = "/etc/systemd/system/kubelet.service";
const KUBELET_YAML = "/etc/kubernetes/kubelet.yaml";
const RECORD = "/var/lib/typhoon-agent/installed.json";

let bundle: string;

beforeAll(async () => {
  if (!isRoot) return;
  bundle = path.join(tempDir("typhoon-verify-recorded-"), "assets");
  await writeSampleBundle(bundle);
}, 30_000);

async function apply(root: string, ...args: string[]): Promise<void> {
  const run = await runAgent(["apply", ...args, "--root", root, "--no-start", "--keep-bundle"], QUIET);
  if (run.exitCode !== 0) throw new Error(`apply ${args.join(" ")} failed: ${run.stderr}`);
}

async function verify(root: string, ...flags: string[]): Promise<{ exitCode: number; report: VerifyResult & { hint?: string }; stderr: string; table: string }> {
  const json = await runAgent(["verify", "--root", root, "--json", ...flags], QUIET);
  const table = await runAgent(["verify", "--root", root, ...flags], QUIET);
  return { exitCode: json.exitCode ?? -1, report: JSON.parse(json.stdout as string) as VerifyResult, stderr: `${json.stderr}`, table: `${table.stdout}` };
}

const summary = (report: VerifyResult): string[] => report.findings.map((finding) => `${finding.severity} ${finding.check} ${finding.path}`);

/** The typhoon-agent command line a hint names (after "sudo "), up to the end of the command. */
function hintedCommand(hint: string, verb: "plan" | "apply" | "rollback"): string[] {
  const match = new RegExp(`sudo typhoon-agent ${verb}((?: --?[a-z-]+(?: (?!--)[^ ;,)]+)?)*)`).exec(hint);
  expect(match, `the hint names typhoon-agent ${verb}: ${hint}`).not.toBeNull();
  return [verb, ...match![1]!.trim().split(" ").filter((word) => word !== "")];
}

describe("verify checks the kubelet files against the configuration the install recorded", () => {
  rootTest("a worker installed with --role worker --node-labels x=y: a plain verify finds nothing", async () => {
    const root = makeHost();
    await apply(root, "--role", "worker", "--node-labels", "x=y");
    const { exitCode, report, table } = await verify(root);
    expect(summary(report)).toEqual([]);
    expect(exitCode).toBe(0);
    expect(table).not.toContain("hint:");
  });

  rootTest("a controller installed with --config F (a non-default DNS address): a plain verify finds nothing", async () => {
    const root = makeHost();
    const config = path.join(tempDir("typhoon-verify-config-"), "agent.yaml");
    fs.writeFileSync(config, "cluster_dns_service_ip: 10.3.0.53\n");
    await apply(root, bundle, "--config", config);
    const { exitCode, report } = await verify(root);
    expect(summary(report)).toEqual([]);
    expect(exitCode).toBe(0);
  });

  rootTest("agent.yaml changed after the install: the kubelet files still match the install, one warning names the key, and the hinted plan shows no change", async () => {
    const root = makeHost();
    await apply(root, "--role", "worker", "--node-labels", "x=y");
    fs.mkdirSync(`${root}/etc/typhoon`, { recursive: true });
    fs.writeFileSync(`${root}/etc/typhoon/agent.yaml`, "cluster_dns_service_ip: 10.3.0.53\n");
    const { exitCode, report } = await verify(root);
    expect(summary(report)).toEqual(["warning config /etc/typhoon/agent.yaml"]);
    expect(report.findings[0]!.message).toContain("cluster_dns_service_ip");
    expect(exitCode).toBe(0);
    // The hint's plan, with the flags of the install, leaves the kubelet files as they are.
    const plan = await runAgent([...hintedCommand(report.hint!, "plan"), "--root", root, "--json"], QUIET);
    expect(plan.exitCode, `${plan.stderr}`).toBe(0);
    const actions = (JSON.parse(plan.stdout as string) as { actions: Array<{ path: string; action: string }> }).actions;
    expect(actions.filter((action) => action.path === KUBELET_SERVICE || action.path === KUBELET_YAML).map((action) => action.action)).toEqual(["unchanged", "unchanged"]);
  });

  rootTest("an older record without the configuration: agent.yaml and verify's flags decide, as before", async () => {
    const root = makeHost();
    await apply(root, "--role", "worker", "--node-labels", "x=y");
    const record = JSON.parse(fs.readFileSync(`${root}${RECORD}`, "utf8")) as Record<string, unknown>;
    delete record.config;
    fs.writeFileSync(`${root}${RECORD}`, JSON.stringify(record));
    expect(summary((await verify(root, "--role", "worker", "--node-labels", "x=y")).report)).toEqual([]);
    expect(summary((await verify(root)).report)).toEqual([`warning content ${KUBELET_YAML}`, `warning content ${KUBELET_SERVICE}`]);
  });
});

describe("every hint verify prints works on that node", () => {
  rootTest("a worker: kubelet.service edited, kubelet.yaml opened up: the hinted apply (the install's flags) repairs both", async () => {
    const root = makeHost();
    await apply(root, "--role", "worker", "--node-labels", "x=y");
    fs.appendFileSync(`${root}${KUBELET_SERVICE}`, "# local edit\n");
    fs.chmodSync(`${root}${KUBELET_YAML}`, 0o666);
    const { exitCode, report, stderr, table } = await verify(root);
    expect(summary(report)).toEqual([`error mode ${KUBELET_YAML}`, `warning content ${KUBELET_SERVICE}`]);
    expect(exitCode).toBe(1);
    const hintLine = stderr.split("\n").find((line) => line.startsWith("typhoon-agent: hint: "));
    expect(hintLine).toBe(`typhoon-agent: hint: ${report.hint}`);
    expect(table).toContain(`hint: ${report.hint}\n`);
    expect(report.hint).not.toMatch(/\/home\/core\/assets|rollback/);
    const command = hintedCommand(report.hint!, "apply");
    expect(command).toEqual(["apply", "--role", "worker", "--node-labels", "x=y"]);
    await apply(root, ...command.slice(1));
    const after = await verify(root);
    expect(summary(after.report)).toEqual([]);
    expect(after.exitCode).toBe(0);
  });

  rootTest("a controller whose bundle apply consumed: the hint delivers the bundle again or rolls back, never a plan of a bundle that is gone", async () => {
    const root = makeHost();
    const consumed = `${root}/home/core/assets`;
    fs.mkdirSync(path.dirname(consumed), { recursive: true });
    fs.copyFileSync(bundle, consumed);
    const run = await runAgent(["apply", consumed, "--root", root, "--no-start"], QUIET);
    expect(run.exitCode, `${run.stderr}`).toBe(0);
    expect(fs.existsSync(consumed)).toBe(false);
    fs.appendFileSync(`${root}${KUBELET_SERVICE}`, "# local edit\n");
    const { exitCode, report } = await verify(root);
    expect(summary(report)).toEqual([`warning content ${KUBELET_SERVICE}`]);
    expect(exitCode).toBe(0);
    expect(report.hint).not.toMatch(/typhoon-agent plan/);
    expect(report.hint).toContain("/home/core/assets");
    expect(report.hint).toContain("'sudo typhoon-agent apply -'");
    expect(hintedCommand(report.hint!, "rollback")).toEqual(["rollback"]);
    // Delivered again (here from standard input, as the hint's ssh line does), the bundle repairs it.
    const again = await runAgent(["apply", "-", "--root", root, "--no-start"], { ...QUIET, inputFile: bundle });
    expect(again.exitCode, `${again.stderr}`).toBe(0);
    expect(summary((await verify(root)).report)).toEqual([]);
  });

  test("the journal catalog's action for a failed check reads no bundle a node may not have", () => {
    expect(EVENTS.checkFailed.action).not.toMatch(/typhoon-agent (plan|apply) \/home\/core\/assets/);
    expect(EVENTS.checkFailed.action).toContain("typhoon-agent rollback");
    expect(EVENTS.checkFailed.action).toContain("--role worker");
  });
});

describe("the install record verify starts from", () => {
  rootTest("missing: exit 66, nothing to verify", async () => {
    const run = await runAgent(["verify", "--root", makeHost()], QUIET);
    expect(run.exitCode).toBe(66);
    expect(run.stderr).toContain(`nothing to verify: ${RECORD} is missing`);
  });

  const damaged: Array<[string, string, RegExp]> = [
    ["cut short", '{"files": ["/etc/kubernetes/kubelet.yaml"], "config": {"role": "worker", "node_labels": ["CANARY-value', /is not valid JSON/],
    ["a configuration this agent refuses", '{"files": ["/etc/kubernetes/kubelet.yaml"], "config": {"cluster_dns_service_ip": "CANARY-value"}}', /holds a configuration this agent does not accept/],
    ["no list of files", '{"files": "CANARY-value"}', /has no list of absolute paths/],
  ];
  for (const [title, content, message] of damaged) {
    rootTest(`damaged (${title}): exit 1, the record named, its content never quoted`, async () => {
      const root = makeHost();
      await apply(root, "--role", "worker");
      fs.writeFileSync(`${root}${RECORD}`, content);
      const run = await runAgent(["verify", "--root", root, "--json"], QUIET);
      expect(run.exitCode).toBe(1);
      expect(run.stderr).toMatch(message);
      expect(run.stderr).toContain(RECORD);
      expect(`${run.stdout}${run.stderr}`).not.toContain("CANARY");
      expect(run.stderr).not.toMatch(/typhoon-agent (plan|apply) \/home\/core\/assets/);
      expect(run.stderr).toContain("hint: an apply rewrites it");
    });
  }
});
