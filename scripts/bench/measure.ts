// Side-by-side measurement: the contenders of one comparison run interleaved (A B A B ...)
// in the same process, and only medians and ratios are reported. These machines are noisy;
// a ratio measured in one run means something, an absolute time much less.

import { spawnSync, type SpawnSyncOptions } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export interface Contender {
  name: string;
  command: string;
  args: readonly string[];
  options?: SpawnSyncOptions;
  /** Runs before every measured run, outside the timing (fresh output directories). */
  prepare?: () => void;
  /** The exit status a run must end with (default 0): some start-up measures end in a refusal. */
  exitCode?: number;
}

export interface Measured {
  name: string;
  medianMs: number;
  samplesMs: number[];
  peakRssKb: number | undefined;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function runOnce(contender: Contender): number {
  contender.prepare?.();
  const started = performance.now();
  const result = spawnSync(contender.command, contender.args, { stdio: "ignore", ...contender.options });
  const elapsed = performance.now() - started;
  if (result.status !== (contender.exitCode ?? 0)) {
    throw new Error(`${contender.name}: ${contender.command} ${contender.args.join(" ")} exited ${result.status ?? result.signal}`);
  }
  return elapsed;
}

/** Peak resident set of one run, from GNU time (outside the timed runs). */
export function peakRss(contender: Contender): number | undefined {
  if (!fs.existsSync("/usr/bin/time")) return undefined;
  contender.prepare?.();
  const report = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "bench-rss-")), "rss");
  const result = spawnSync("/usr/bin/time", ["-f", "%M", "-o", report, contender.command, ...contender.args], {
    stdio: "ignore",
    ...contender.options,
  });
  if (result.status !== (contender.exitCode ?? 0)) return undefined;
  const kilobytes = Number(fs.readFileSync(report, "utf8").trim());
  fs.rmSync(path.dirname(report), { recursive: true });
  return kilobytes;
}

export function compare(contenders: readonly Contender[], runs: number, options: { warmup?: number; rss?: boolean } = {}): Measured[] {
  for (let i = 0; i < (options.warmup ?? 1); i++) contenders.forEach(runOnce);
  const samples = contenders.map(() => [] as number[]);
  for (let run = 0; run < runs; run++) {
    contenders.forEach((contender, index) => samples[index]!.push(runOnce(contender)));
  }
  return contenders.map((contender, index) => ({
    name: contender.name,
    medianMs: median(samples[index]!),
    samplesMs: samples[index]!,
    peakRssKb: options.rss ? peakRss(contender) : undefined,
  }));
}
