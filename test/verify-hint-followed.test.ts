// verify's hint is followed here exactly as printed, in the cases that used to break it: an
// agent.yaml that does not load (every apply and plan refuses it, so the hint says to fix it
// first), a recorded value no flag can give ("" or an empty list: named as an agent.yaml
// line, never a flag the CLI refuses), and a controller whose agent.yaml differs from the
// record (the two ways say which configuration each installs).

import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { CONFIG_KEY_LIST } from "../agent/config/keys.ts";
import type { VerifyResult } from "../agent/verify/findings.ts";
import { runAgent } from "./helpers/agent-binary.ts";
import { makeHost, writeSampleBundle } from "./helpers/host.ts";
import { tempDir } from "./helpers/tree.ts";

const isRoot = process.getuid?.() === 0;
const rootTest = isRoot ? test : test.skip;
const QUIET = { env: { TYPHOON_AGENT_JOURNAL: "stderr" } };
const AGENT_YAML = "/etc/typhoon/agent.yaml";
const KUBELET_YAML = "/etc/kubernetes/kubelet.yaml";

let bundle: string;
beforeAll(async () => {
  if (!isRoot) return;
  bundle = path.join(tempDir("typhoon-hint-followed-"), "assets");
  await writeSampleBundle(bundle);
}, 30_000);

async function agent(args: string[], input?: string): Promise<void> {
  const run = await runAgent(args, input === undefined ? QUIET : { ...QUIET, inputFile: input });
  if (run.exitCode !== 0) throw new Error(`${args.join(" ")} exited ${run.exitCode}: ${run.stderr}`);
}

async function verify(root: string): Promise<VerifyResult & { hint?: string }> {
  const run = await runAgent(["verify", "--root", root, "--json"], QUIET);
  return JSON.parse(String(run.stdout)) as VerifyResult & { hint?: string };
}

function writeConfig(root: string, text: string): void {
  fs.mkdirSync(`${root}/etc/typhoon`, { recursive: true });
  fs.writeFileSync(`${root}${AGENT_YAML}`, text);
}

/** The words of the typhoon-agent command a hint names after "sudo typhoon-agent VERB", as sh would split them. */
function hinted(hint: string, verb: string): string[] {
  const match = new RegExp(`sudo typhoon-agent ${verb}((?: --?[a-z-]+(?: (?:'[^']*'|[^ ;'-][^ ;]*))?)*)`).exec(hint);
  expect(match, `the hint names typhoon-agent ${verb}: ${hint}`).not.toBeNull();
  if (match![1]!.trim() === "") return [verb];
  const words = execFileSync("sh", ["-c", `printf '%s\\0' ${match![1]}`]).toString().split("\0").slice(0, -1);
  return [verb, ...words];
}

/** The agent.yaml lines a hint asks for ("set in FILE (...): a; b; then"). */
function linesToSet(hint: string): string[] {
  const lines = /set in \S+ \([^)]*\): (.*?); then /.exec(hint)?.[1];
  return lines === undefined ? [] : lines.split("; ");
}

const BROKEN = { "an unknown key": "role: worker\nrol: x\n", "YAML that does not parse": "role: [worker\n", "a floating kubelet_image": "role: worker\nkubelet_image: quay.io/poseidon/kubelet:latest\n" };

describe("agent.yaml does not load: the hint says to fix it first, and works once it is", () => {
  for (const [form, text] of Object.entries(BROKEN)) {
    rootTest(`a worker, ${form}: fixed, the hinted plan and apply run and repair it`, async () => {
      const root = makeHost();
      await agent(["apply", "--root", root, "--role", "worker", "--node-labels", "example.com/pool=a", "--platform", "aws", "--no-start"]);
      writeConfig(root, text);
      fs.chmodSync(`${root}${KUBELET_YAML}`, 0o666);
      const { hint } = await verify(root);
      expect(hint).toMatch(new RegExp(`^first fix ${AGENT_YAML}, which does not load and stops every apply and plan \\(or move it aside: sudo mv -- ${AGENT_YAML} ${AGENT_YAML}.broken\\); then sudo typhoon-agent plan`));
      writeConfig(root, "role: worker\n");
      await agent([...hinted(hint!, "plan"), "--root", root]);
      await agent([...hinted(hint!, "apply"), "--root", root, "--no-start"]);
      expect((await verify(root)).findings).toEqual([]);
    });
  }

  rootTest("a worker: moved aside as the hint prints it, the hinted apply repairs it", async () => {
    const root = makeHost();
    await agent(["apply", "--root", root, "--role", "worker", "--node-labels", "example.com/pool=a", "--no-start"]);
    writeConfig(root, BROKEN["an unknown key"]);
    fs.chmodSync(`${root}${KUBELET_YAML}`, 0o666);
    const { hint } = await verify(root);
    const mv = /\(or move it aside: sudo (mv -- \S+ \S+)\)/.exec(hint!)![1]!;
    execFileSync("sh", ["-c", mv.replaceAll(" /etc/", ` ${root}/etc/`)]);
    await agent([...hinted(hint!, "apply"), "--root", root, "--no-start"]);
    expect((await verify(root)).findings).toEqual([]);
  });

  rootTest("a controller: the hint says to fix it first; fixed, the bundle delivered again repairs it", async () => {
    const root = makeHost();
    await agent(["apply", "-", "--root", root, "--no-start"], bundle);
    writeConfig(root, "rol: controller\n");
    fs.chmodSync(`${root}${KUBELET_YAML}`, 0o666);
    const { hint } = await verify(root);
    expect(hint).toMatch(new RegExp(`^first fix ${AGENT_YAML}, which does not load .*; then apply needs the bundle`));
    writeConfig(root, "role: controller\n");
    await agent(["apply", "-", "--root", root, "--no-start"], bundle);
    expect((await verify(root)).findings).toEqual([]);
  });
});

describe("a controller whose agent.yaml differs from the record: the hint says which way installs which", () => {
  rootTest("redelivery installs agent.yaml as it is now; the ssh line the last install's values", async () => {
    const root = makeHost();
    await agent(["apply", "-", "--root", root, "--no-start", "--node-labels", "example.com/pool=a", "--cluster-dns-service-ip", "10.3.0.20"], bundle);
    writeConfig(root, "node_labels: [example.com/pool=b]\ncluster_dns_service_ip: 10.3.0.30\n");
    fs.chmodSync(`${root}${KUBELET_YAML}`, 0o666);
    const { hint } = await verify(root);
    expect(hint).toBe(
      `apply needs the bundle, which the last apply consumed: deliver the bundle again to /home/core/assets, where typhoon-agent.path applies it with ${AGENT_YAML} as it is now; ` +
        "or, to install the configuration of the last install instead: ssh core@NODE 'sudo typhoon-agent apply - --cluster-dns-service-ip 10.3.0.20 --node-labels example.com/pool=a' < assets; " +
        "sudo typhoon-agent rollback returns to the install before the last apply",
    );
    const recorded = (): unknown => (JSON.parse(fs.readFileSync(`${root}/var/lib/typhoon-agent/installed.json`, "utf8")) as { config: { node_labels: unknown } }).config.node_labels;
    const remote = /'(sudo typhoon-agent apply - [^']*)'/.exec(hint!)![1]!;
    await agent(["apply", "-", ...hinted(remote.replace("apply - ", "apply "), "apply").slice(1), "--root", root, "--no-start"], bundle);
    expect(recorded()).toEqual(["example.com/pool=a"]);
    await agent(["apply", "-", "--root", root, "--no-start"], bundle);
    expect(recorded()).toEqual(["example.com/pool=b"]);
  });
});

// Each key in each value form an install can record and agent.yaml can hold: followed as
// printed (the lines set, then plan and apply), the hint repairs the node, and never names a
// flag the CLI refuses.
const OTHER_FORMS: Partial<Record<string, string[]>> = {
  textfile_collector_dir: ['""'], node_labels: ["[example.com/pool=a]"], node_taints: ["[example.com/gpu=true:NoSchedule]"],
  cloud_provider: ["external"], kubelet_version: ['"1.36"'], platform: ["aws"], cluster_domain_suffix: ["example.test"],
};
describe("every key's recorded value, in every form, is given so the CLI takes it", () => {
  for (const { name } of CONFIG_KEY_LIST) {
    for (const form of OTHER_FORMS[name] ?? []) {
      const other = `role: worker\n${name}: ${form}\n`;
      const plain = "role: worker\n";
      for (const [installed, now] of [[other, plain], [plain, other]] as const) {
        rootTest(`${name}: installed with ${installed === other ? form : "its default"}, agent.yaml now ${now === other ? form : "without it"}`, async () => {
          const root = makeHost();
          writeConfig(root, installed);
          await agent(["apply", "--root", root, "--no-start"]);
          writeConfig(root, now);
          fs.chmodSync(`${root}${KUBELET_YAML}`, 0o666);
          const { hint } = await verify(root);
          expect(hint).not.toMatch(/ --[a-z-]+ ''/);
          const lines = linesToSet(hint!);
          const kept = now.split("\n").filter((line) => line !== "" && !lines.some((set) => set.startsWith(line.split(":")[0]!) || set === `no ${line.split(":")[0]} line`));
          writeConfig(root, [...kept, ...lines.filter((line) => !line.startsWith("no "))].join("\n") + "\n");
          await agent([...hinted(hint!, "plan"), "--root", root]);
          await agent([...hinted(hint!, "apply"), "--root", root, "--no-start"]);
          const after = await verify(root);
          expect(after.findings.filter((finding) => finding.severity === "error"), JSON.stringify(after.findings)).toEqual([]);
        });
      }
    }
  }
});
