// A durable apply of the realistic bundle (the 44 assets Terraform renders) against upstream's
// layout script, on fresh copies of one scratch host, interleaved. Two more contenders say
// what the apply's time is made of: the bare compiled program (the runtime's floor), and
// `plan` of the same bundle (all of apply but the backup and the transaction).

import * as fs from "node:fs";
import * as path from "node:path";
import { makeSampleAssets, terraformBundle } from "../make-bundle.ts";
import { makeHostTree } from "../sample-host.ts";
import { baseline } from "./baselines.ts";
import { compare } from "./measure.ts";
import { AGENT, AGENT_ENV, freshCopy, mb, ms, type Section } from "./section.ts";
import { reRootedLayoutScript } from "./upstream-layout.ts";

const TARGET = 0.75;

export const apply: Section = {
  id: "apply",
  title: "durable apply vs upstream's layout script",
  async run({ work, quick }) {
    const skeleton = makeHostTree(path.join(work, "apply-skeleton"));
    const assets = await makeSampleAssets();
    fs.writeFileSync(path.join(skeleton, "home/core/assets"), terraformBundle(assets), { mode: 0o600 });
    const script = path.join(work, "layout.sh");
    fs.writeFileSync(script, reRootedLayoutScript(), { mode: 0o755 });
    const rootOf = (name: string): string => path.join(work, `apply-${name}`);
    const agentRun = (command: "apply" | "plan") => ({
      name: command,
      command: AGENT,
      args: [command, path.join(rootOf(command), "home/core/assets"), "--root", rootOf(command), "--no-start"],
      options: { env: AGENT_ENV },
      prepare: freshCopy(skeleton, rootOf(command)),
    });
    const [agent, upstream, bare, plan] = compare(
      [
        agentRun("apply"),
        {
          name: "upstream",
          command: "bash",
          args: ["-e", script],
          options: { cwd: path.join(rootOf("upstream"), "home/core"), env: { ...process.env, ROOT: rootOf("upstream") } },
          prepare: freshCopy(skeleton, rootOf("upstream")),
        },
        { name: "bare", command: await baseline(work, "bare"), args: [] },
        agentRun("plan"),
      ],
      quick ? 10 : 40,
      { warmup: 3, rss: true },
    );
    const ratio = agent!.medianMs / upstream!.medianMs;
    const rss = agent!.peakRssKb;
    const scriptTime = `layout script (no fsync): ${ms(upstream!.medianMs)}`;
    return [
      { measure: `durable apply, ${assets.size} assets`, agent: ms(agent!.medianMs), baseline: scriptTime, ratio, target: `<= ${TARGET}x`, met: ratio <= TARGET },
      { measure: "  of which: bare Bun program", agent: ms(bare!.medianMs), baseline: scriptTime, ratio: bare!.medianMs / upstream!.medianMs },
      { measure: "  of which: plan (no backup, no transaction)", agent: ms(plan!.medianMs), baseline: scriptTime, ratio: plan!.medianMs / upstream!.medianMs },
      { measure: "peak RSS: apply", agent: mb(rss), baseline: `layout script: ${mb(upstream!.peakRssKb)}`, target: "<= 64 MB", ...(rss === undefined ? {} : { met: rss <= 64 * 1024 }) },
    ];
  },
};
