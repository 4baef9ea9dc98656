// The benchmark sections. Each compares the agent with a baseline in the same run.

import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { compare, type Contender } from "./measure.ts";

export const REPO = path.resolve(import.meta.dir, "../..");
export const AGENT = path.join(REPO, "dist/typhoon-agent");
const ONE_LINER = "/#####/ {filename=$2; next} {print > filename}";

export interface Row {
  measure: string;
  agent: string;
  baseline: string;
  ratio?: number;
  target?: string;
  met?: boolean;
}

export interface SectionContext {
  work: string;
  quick: boolean;
}

export interface Section {
  id: string;
  title: string;
  run(context: SectionContext): Promise<Row[]> | Row[];
}

const ms = (value: number): string => `${value.toFixed(1)} ms`;
const mb = (kilobytes: number | undefined): string => (kilobytes === undefined ? "n/a" : `${(kilobytes / 1024).toFixed(1)} MB`);

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

const startup: Section = {
  id: "startup",
  title: "start-up (--version vs node -e 0)",
  run({ quick }) {
    const [agent, node] = compare(
      [
        { name: "agent", command: AGENT, args: ["--version"] },
        { name: "node", command: "node", args: ["-e", "0"] },
      ],
      quick ? 10 : 40,
      { warmup: 3, rss: true },
    );
    const ratio = agent!.medianMs / node!.medianMs;
    return [
      { measure: "start-up: typhoon-agent --version", agent: ms(agent!.medianMs), baseline: `node -e 0: ${ms(node!.medianMs)}`, ratio, target: "<= 0.25x", met: ratio <= 0.25 },
      { measure: "peak RSS: typhoon-agent --version", agent: mb(agent!.peakRssKb), baseline: `node -e 0: ${mb(node!.peakRssKb)}` },
    ];
  },
};

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
  const rss = agent!.peakRssKb;
  return [
    { measure: `unpack ${size} vs mawk`, agent: ms(agent!.medianMs), baseline: `mawk: ${ms(mawk!.medianMs)}`, ratio: vsMawk, target: "<= 1.0x", met: vsMawk <= 1 },
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
    const sizes: Array<[number, number]> = quick ? [[10, 100], [100, 1000]] : [[1, 10], [10, 100], [100, 1000]];
    return sizes.flatMap(([megabytes, files]) => unpackRows(work, megabytes, files, quick ? 3 : megabytes >= 100 ? 5 : 9));
  },
};

export const benchSections: Section[] = [startup, unpack];
