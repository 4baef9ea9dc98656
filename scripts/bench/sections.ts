// The benchmark sections. Each compares the agent with a baseline in the same run.

import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { terraformBundle } from "../make-bundle.ts";
import { makeHostTree } from "../sample-host.ts";
import { apply } from "./apply.ts";
import { compare, type Contender } from "./measure.ts";
import { AGENT, AGENT_ENV, REPO, freshCopy, mb, ms, type Row, type Section } from "./section.ts";
import { startup } from "./startup.ts";

const ONE_LINER = "/#####/ {filename=$2; next} {print > filename}";

/**
 * A bundle of `files` assets totalling about `bytes`, written as it is generated (base64
 * lines, like PEM). Returns the asset directories, which awk needs to exist.
 */
export function writeBulkBundle(file: string, bytes: number, files: number): string[] {
  const perFile = Math.max(1, Math.floor(bytes / files));
  const block = randomBytes(Math.ceil((perFile * 3) / 4)).toString("base64").replace(/.{76}/g, "$&\n").slice(0, perFile);
  const directories = new Set<string>();
  const fd = fs.openSync(file, "w", 0o600);
  try {
    for (let i = 0; i < files; i++) {
      const directory = `d${i % 20}`;
      directories.add(directory);
      fs.writeSync(fd, `${i === 0 ? "" : "\n"}##### ${directory}/f${i}.txt\n`);
      fs.writeSync(fd, block);
    }
  } finally {
    fs.closeSync(fd);
  }
  return [...directories];
}

function freshDirectory(directory: string, subdirectories: readonly string[] = []): () => void {
  return () => {
    fs.rmSync(directory, { recursive: true, force: true });
    fs.mkdirSync(directory, { recursive: true });
    for (const sub of subdirectories) fs.mkdirSync(path.join(directory, sub), { recursive: true });
  };
}

function unpackRows(work: string, megabytes: number, files: number, runs: number): Row[] {
  const bundle = path.join(work, `bundle-${megabytes}m`);
  const directories = writeBulkBundle(bundle, megabytes * 1024 * 1024, files);
  const out = (name: string): string => path.join(work, `out-${name}`);
  const awk = (name: string): Contender => ({
    name,
    command: name,
    args: [ONE_LINER, bundle],
    options: { cwd: out(name), env: { LC_ALL: "C" } },
    prepare: freshDirectory(out(name), directories),
  });
  const contenders: Contender[] = [
    { name: "agent", command: AGENT, args: ["unpack", bundle, "-C", out("agent")], prepare: () => fs.rmSync(out("agent"), { recursive: true, force: true }) },
    awk("mawk"),
    awk("gawk"),
  ];
  const [agent, mawk, gawk] = compare(contenders, runs, { rss: true });
  fs.rmSync(bundle);
  for (const name of ["agent", "mawk", "gawk"]) fs.rmSync(out(name), { recursive: true, force: true });
  const size = `${megabytes} MB / ${files} files`;
  const vsMawk = agent!.medianMs / mawk!.medianMs;
  // Past 100 MB the decoder's speed shows; below, start-up is most of both programs' time.
  const target = megabytes >= 100 ? 0.5 : 1;
  const rss = agent!.peakRssKb;
  return [
    { measure: `unpack ${size} vs mawk`, agent: ms(agent!.medianMs), baseline: `mawk: ${ms(mawk!.medianMs)}`, ratio: vsMawk, target: `<= ${target.toFixed(1)}x`, met: vsMawk <= target },
    { measure: `unpack ${size} vs gawk`, agent: ms(agent!.medianMs), baseline: `gawk: ${ms(gawk!.medianMs)}`, ratio: agent!.medianMs / gawk!.medianMs },
    {
      measure: `peak RSS: unpack ${size}`,
      agent: mb(rss),
      baseline: `mawk: ${mb(mawk!.peakRssKb)}`,
      target: "<= 64 MB",
      ...(rss === undefined ? {} : { met: rss <= 64 * 1024 }),
    },
  ];
}

const unpack: Section = {
  id: "unpack",
  title: "unpack vs mawk and gawk",
  run({ work, quick }) {
    const sizes: Array<[number, number]> = quick ? [[10, 100], [100, 1000]] : [[1, 10], [10, 100], [100, 1000], [1024, 1000]];
    const rows = sizes.flatMap(([megabytes, files]) => unpackRows(work, megabytes, files, quick ? 3 : megabytes >= 1000 ? 3 : megabytes >= 100 ? 5 : 9));
    const rss = rows.filter((row) => row.measure.startsWith("peak RSS")).map((row) => Number.parseFloat(row.agent));
    const growth = rss[rss.length - 1]! / rss[0]!;
    rows.push({ measure: `peak RSS, ${sizes.at(-1)![0]} MB vs ${sizes[0]![0]} MB bundle`, agent: "", baseline: "", ratio: growth, target: "flat (<= 1.25x)", met: growth <= 1.25 });
    return rows;
  },
};

/**
 * A bundle of `count` assets: one static pod (a controller bundle needs one) and small
 * manifests, no PKI: the scaling of the transaction itself.
 */
function writeManyAssetsBundle(file: string, count: number): void {
  const assets = new Map<string, string>();
  assets.set("static-manifests/bulk.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: bulk\nspec:\n  containers:\n  - name: bulk\n    image: busybox\n");
  for (let i = 1; i < count; i++) {
    assets.set(`manifests/bulk/f${String(i).padStart(5, "0")}.yaml`, `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bulk-${i}\ndata:\n  key: "${"x".repeat(120)}"\n`);
  }
  fs.writeFileSync(file, terraformBundle(assets), { mode: 0o600 });
}

const scale: Section = {
  id: "scale",
  title: "apply time per asset, 10 to 10,000 assets",
  run({ work, quick }) {
    const counts = quick ? [10, 1000] : [10, 1000, 10000];
    const perAsset = new Map<number, number>();
    for (const count of counts) {
      const skeleton = makeHostTree(path.join(work, `scale-skeleton-${count}`));
      writeManyAssetsBundle(path.join(skeleton, "home/core/assets"), count);
      const root = path.join(work, `scale-${count}`);
      const [agent] = compare(
        [{ name: "agent", command: AGENT, args: ["apply", path.join(root, "home/core/assets"), "--root", root, "--no-start"], options: { env: AGENT_ENV }, prepare: freshCopy(skeleton, root) }],
        count >= 10000 ? 3 : 7,
      );
      perAsset.set(count, agent!.medianMs / count);
      fs.rmSync(skeleton, { recursive: true, force: true });
      fs.rmSync(root, { recursive: true, force: true });
    }
    const rows: Row[] = counts.map((count) => ({ measure: `apply ${count} assets: time per asset`, agent: `${(perAsset.get(count)! * 1000).toFixed(0)} µs`, baseline: "" }));
    const largest = counts[counts.length - 1]!;
    const growth = perAsset.get(largest)! / perAsset.get(1000)!;
    rows.push({ measure: `per-asset time, ${largest} vs 1000 assets`, agent: "", baseline: "", ratio: growth, target: "flat (<= 1.5x)", met: growth <= 1.5 });
    return rows;
  },
};

const size: Section = {
  id: "size",
  title: "binary size vs the bare Bun runtime",
  run() {
    const runtime = path.join(REPO, "node_modules/bun/bin/bun.exe");
    const agentBytes = fs.statSync(AGENT).size;
    const runtimeBytes = fs.statSync(runtime).size;
    return [{ measure: "binary size", agent: mb(agentBytes / 1024), baseline: `bun runtime: ${mb(runtimeBytes / 1024)}`, ratio: agentBytes / runtimeBytes }];
  },
};

export const benchSections: Section[] = [startup, unpack, apply, scale, size];
