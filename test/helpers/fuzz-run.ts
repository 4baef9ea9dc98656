// The fuzz loop shared by the bounded CI test (test/fuzz.test.ts) and `npm run fuzz`: each
// case must get the verdict its mutation owes it; a valid one must round-trip and unpack
// --awk to exactly what gawk and mawk write; an invalid one must be refused (exit 65) with
// the target directory untouched, in-process and through the compiled binary.

import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { BundleError } from "../../agent/errors.ts";
import type { BundleInput } from "../../agent/unpack/input.ts";
import { unpackToDirectory } from "../../agent/unpack/unpack-to-directory.ts";
import { terraformBundle } from "../../scripts/make-bundle.ts";
import { AGENT } from "./agent-binary.ts";
import { decode, readerOf } from "./decode.ts";
import { fuzzCase, type FuzzCase } from "./fuzz-cases.ts";
import { seededRandom } from "./random.ts";
import { readFiles, snapshotTree, tempDir } from "./tree.ts";

const ONE_LINER = "/#####/ {filename=$2; next} {print > filename}";

export interface FuzzOptions {
  seed: number;
  /** Stop after this many cases or this many milliseconds, whichever comes first. */
  cases: number;
  milliseconds: number;
  /** Every Nth case also runs through the compiled binary. */
  binaryEvery: number;
}

export interface FuzzReport {
  cases: number;
  valid: number;
  invalid: number;
  failures: string[];
}

export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const random = seededRandom(options.seed);
  const work = tempDir("typhoon-fuzz-");
  const report: FuzzReport = { cases: 0, valid: 0, invalid: 0, failures: [] };
  const deadline = performance.now() + options.milliseconds;
  try {
    while (report.cases < options.cases && performance.now() < deadline && report.failures.length < 5) {
      const testCase = fuzzCase(random);
      const where = `case ${report.cases} of seed ${options.seed} (${testCase.mutation})`;
      const problem = await checkCase(testCase, path.join(work, String(report.cases)), report.cases % options.binaryEvery === 0);
      if (problem !== undefined) report.failures.push(`${where}: ${problem}`);
      report[testCase.verdict]++;
      report.cases++;
      fs.rmSync(path.join(work, String(report.cases - 1)), { recursive: true, force: true });
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  return report;
}

async function checkCase(testCase: FuzzCase, work: string, viaBinary: boolean): Promise<string | undefined> {
  fs.mkdirSync(work, { recursive: true });
  let decoded: Map<string, Buffer> | undefined;
  let rejection: BundleError | undefined;
  try {
    decoded = decode(testCase.bundle, { chunkSize: 1 + (testCase.bundle.length % 97) }).assets;
  } catch (error) {
    if (!(error instanceof BundleError)) return `unexpected ${String(error)}`;
    rejection = error;
  }
  if (testCase.verdict === "invalid") {
    if (rejection === undefined) return "an invalid bundle was accepted";
    return await checkRefusal(testCase, work, viaBinary);
  }
  if (rejection !== undefined) return `a valid bundle was refused: ${rejection.message}`;
  if (testCase.mutation === "unchanged" && !sameMap(decoded!, testCase.assets)) return "unpack(pack(m)) != m";
  if (!terraformBundle(decoded!).equals(testCase.bundle)) return "pack(unpack(b)) != b";
  return await checkAgainstAwk(testCase, work, viaBinary);
}

/** unpack --awk must write what gawk and mawk write. */
async function checkAgainstAwk(testCase: FuzzCase, work: string, viaBinary: boolean): Promise<string | undefined> {
  const bundlePath = path.join(work, "bundle");
  fs.writeFileSync(bundlePath, testCase.bundle);
  const ours = path.join(work, "agent");
  if (viaBinary) {
    const run = spawnSync(AGENT, ["unpack", bundlePath, "-C", ours, "--awk"], { encoding: "utf8" });
    if (run.status !== 0) return `the binary refused a valid bundle: ${run.stderr}`;
  } else {
    await unpackToDirectory(inputOf(testCase.bundle), ours, "awk");
  }
  const expected = readFiles(ours);
  for (const awk of ["gawk", "mawk"]) {
    const directory = path.join(work, awk);
    for (const name of testCase.names) fs.mkdirSync(path.dirname(path.join(directory, name)), { recursive: true });
    const run = spawnSync(awk, [ONE_LINER, bundlePath], { cwd: directory, env: { LC_ALL: "C" }, encoding: "utf8" });
    if (run.status !== 0) return `${awk} failed: ${run.stderr}`;
    if (!sameMap(readFiles(directory), expected)) return `--awk differs from ${awk}`;
  }
  return undefined;
}

/** Refused with exit 65, and the target directory exactly as it was. */
async function checkRefusal(testCase: FuzzCase, work: string, viaBinary: boolean): Promise<string | undefined> {
  const target = path.join(work, "target");
  fs.mkdirSync(target);
  fs.writeFileSync(path.join(target, "existing"), "keep\n");
  const before = snapshotTree(target);
  if (viaBinary) {
    const run = spawnSync(AGENT, ["unpack", "-", "-C", target], { input: testCase.bundle, encoding: "utf8" });
    if (run.status !== 65 || /internal error|\n\s+at /.test(run.stderr)) return `the binary exited ${run.status}, not 65: ${run.stderr}`;
  } else {
    try {
      await unpackToDirectory(inputOf(testCase.bundle), target, "exact");
      return "unpack accepted an invalid bundle";
    } catch (error) {
      if (!(error instanceof BundleError)) return `unexpected ${String(error)}`;
    }
  }
  const after = snapshotTree(target);
  return JSON.stringify([...after]) === JSON.stringify([...before]) ? undefined : "a refused bundle changed the target";
}

function inputOf(bundle: Buffer): BundleInput {
  return { source: "fuzz", read: readerOf(bundle, 4093), close() {} };
}

function sameMap(a: ReadonlyMap<string, Buffer>, b: ReadonlyMap<string, Buffer>): boolean {
  if (a.size !== b.size) return false;
  for (const [name, bytes] of a) if (!b.get(name)?.equals(bytes)) return false;
  return true;
}
