// Start-up: `--version` and the start of every command, against a bare program compiled with
// the agent's own build (scripts/build.ts), all interleaved in one run. Each command is given
// the smallest input that makes it do its job, or refuse at once (nothing to verify, no
// backup). Two more baselines name what no command can avoid: the bare program loading
// node:fs, and node itself.

import * as fs from "node:fs";
import * as path from "node:path";
import { baseline } from "./baselines.ts";
import { compare, type Contender } from "./measure.ts";
import { AGENT, mb, ms, type Row, type Section } from "./section.ts";

const TARGET = 1.2;

/** The agent's start-up measures: what an operator types, and the exit status it ends with. */
function agentRuns(work: string): Array<{ measure: string; args: string[]; exitCode?: number; prepare?: () => void }> {
  const root = path.join(work, "startup-root");
  const bundle = path.join(work, "startup-bundle");
  const tree = path.join(work, "startup-tree");
  const unpacked = path.join(work, "startup-unpacked");
  fs.mkdirSync(root, { recursive: true });
  fs.mkdirSync(tree, { recursive: true });
  fs.writeFileSync(bundle, "##### hello.txt\nhello\n", { mode: 0o600 });
  fs.writeFileSync(path.join(tree, "hello.txt"), "hello\n");
  // --root must exist; an empty one holds no install record and no backup.
  const empty = path.join(work, "startup-empty");
  fs.mkdirSync(empty, { recursive: true });
  return [
    { measure: "--version", args: ["--version"] },
    { measure: "completion", args: ["completion"] },
    { measure: "render config", args: ["render", "config"] },
    { measure: "render kubelet", args: ["render", "kubelet", "--runtime", "podman"] },
    { measure: "plan (worker, empty root)", args: ["plan", "--role", "worker", "--runtime", "podman", "--root", root] },
    // As root, nothing installed (66); as another user verify refuses before looking (77).
    { measure: "verify (nothing installed)", args: ["verify", "--root", empty], exitCode: process.getuid?.() === 0 ? 66 : 77 },
    { measure: "rollback (no backup)", args: ["rollback", "--root", empty], exitCode: 66 },
    { measure: "unpack (one asset)", args: ["unpack", bundle, "-C", unpacked], prepare: () => fs.rmSync(unpacked, { recursive: true, force: true }) },
    { measure: "pack (one file)", args: ["pack", tree, "-o", path.join(work, "startup-packed")] },
  ];
}

export const startup: Section = {
  id: "startup",
  title: "start-up: --version and every command vs a bare compiled Bun program",
  async run({ work, quick }) {
    const bare = await baseline(work, "bare");
    const bareFs = await baseline(work, "bare-fs");
    const runs = agentRuns(work);
    const contenders: Contender[] = [
      { name: "bare", command: bare, args: [] },
      { name: "bare-fs", command: bareFs, args: [] },
      { name: "node", command: "node", args: ["-e", "0"] },
      ...runs.map(({ measure, args, exitCode, prepare }) => ({
        name: measure,
        command: AGENT,
        args,
        options: { env: { ...process.env, TYPHOON_AGENT_JOURNAL: "stderr" } },
        ...(exitCode === undefined ? {} : { exitCode }),
        ...(prepare === undefined ? {} : { prepare }),
      })),
    ];
    const measured = compare(contenders, quick ? 10 : 40, { warmup: 3, rss: true });
    const [floor, floorFs, node] = measured;
    const rows: Row[] = measured.slice(3).map((agent) => {
      const ratio = agent.medianMs / floor!.medianMs;
      return { measure: `start-up: ${agent.name}`, agent: ms(agent.medianMs), baseline: `bare Bun: ${ms(floor!.medianMs)}`, ratio, target: `<= ${TARGET}x`, met: ratio <= TARGET };
    });
    const version = measured[3]!;
    rows.push(
      { measure: "start-up: --version vs node -e 0", agent: ms(version.medianMs), baseline: `node -e 0: ${ms(node!.medianMs)}`, ratio: version.medianMs / node!.medianMs },
      { measure: "bare Bun loading node:fs", agent: ms(floorFs!.medianMs), baseline: `bare Bun: ${ms(floor!.medianMs)}`, ratio: floorFs!.medianMs / floor!.medianMs },
      { measure: "peak RSS: --version", agent: mb(version.peakRssKb), baseline: `bare Bun: ${mb(floor!.peakRssKb)}` },
    );
    return rows;
  },
};
