// `npm run mutate`: plants each mutant of scripts/mutants.ts in turn, builds the binary with
// it, runs the test files that should notice, and puts the file back. Prints a table and,
// last, `mutation score: K/N killed`.
//
//   bun scripts/mutate.ts [--only NAME[,NAME...]] [--list] [--seed N]
//
// The tree is never left mutated: it refuses to start on a dirty tree, keeps each original in
// memory and in a copy on disk, and restores it in a finally block and on SIGINT, SIGTERM and
// SIGHUP (the copy is for a kill -9: `git checkout -- agent/` does the same). The binary goes
// to a temporary path (TYPHOON_AGENT_BIN), so dist/typhoon-agent is never a mutant.

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { compile } from "./build.ts";
import { MUTANTS, plant, type Mutant } from "./mutants.ts";

const REPO = path.resolve(import.meta.dir, "..");
/** A mutant whose tests run longer than this is killed by its timeout and counted as killed. */
const MUTANT_TIMEOUT_MS = 20 * 60_000;

interface Outcome {
  mutant: Mutant;
  result: "killed" | "survived";
  /** The first failing test, or why it counts as killed. */
  by: string;
  seconds: number;
}

const { values } = parseArgs({ options: { only: { type: "string", multiple: true }, list: { type: "boolean" }, seed: { type: "string", default: "1" } } });

const selected = selectMutants(values.only);
if (values.list) {
  for (const mutant of selected) console.log(`${mutant.name.padEnd(40)} ${mutant.file.padEnd(36)} ${mutant.breaks}`);
  process.exit(0);
}
for (const mutant of selected) plant(fs.readFileSync(path.join(REPO, mutant.file), "utf8"), mutant); // every anchor first: a stale one fails the run before it starts
refuseDirtyTree();

const work = fs.mkdtempSync(path.join(os.tmpdir(), "typhoon-mutate-"));
const binary = path.join(work, "typhoon-agent");
let planted: { file: string; original: string } | undefined;
let running: ChildProcess | undefined;

/** Puts the planted file back; safe to call twice and from a signal handler. */
function restore(): void {
  if (planted === undefined) return;
  fs.writeFileSync(path.join(REPO, planted.file), planted.original);
  planted = undefined;
}

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => {
    if (running?.pid !== undefined) killGroup(running.pid);
    restore();
    console.error(`\nmutate: ${signal}; the tree is restored`);
    process.exit(130);
  });
}

const outcomes: Outcome[] = [];
try {
  for (const [index, mutant] of selected.entries()) {
    process.stdout.write(`[${index + 1}/${selected.length}] ${mutant.name} ... `);
    const outcome = await runMutant(mutant);
    outcomes.push(outcome);
    console.log(`${outcome.result} (${outcome.seconds} s${outcome.result === "killed" ? `, ${outcome.by}` : ""})`);
  }
} finally {
  restore();
  fs.rmSync(work, { recursive: true, force: true });
}
printTable(outcomes);
process.exit(outcomes.every((outcome) => outcome.result === "killed") ? 0 : 1);

async function runMutant(mutant: Mutant): Promise<Outcome> {
  const started = performance.now();
  const file = path.join(REPO, mutant.file);
  const original = fs.readFileSync(file, "utf8");
  fs.writeFileSync(path.join(work, `${mutant.name}.orig`), original);
  planted = { file: mutant.file, original };
  try {
    fs.writeFileSync(file, plant(original, mutant));
    await compile(binary);
    const by = await killedBy(mutant.tests);
    return { mutant, result: by === undefined ? "survived" : "killed", by: by ?? "", seconds: Math.round((performance.now() - started) / 1000) };
  } finally {
    restore();
  }
}

/**
 * What kills the planted mutant: the first failing test, confirmed by running it alone again
 * (these machines are shared, and a timing test can fail under load without a mutant). A
 * failure that does not repeat sends the whole set round once more. Undefined: it survived.
 */
async function killedBy(files: readonly string[]): Promise<string | undefined> {
  for (let round = 1; round <= 2; round++) {
    const run = await runTests(files);
    if (run.timedOut) return "timeout";
    if (run.code === 0) return undefined;
    const failed = /^\(fail\) (.*?)(?: \[[\d.]+m?s\])?$/m.exec(run.output)?.[1];
    if (failed === undefined) return `exit ${run.code}`;
    const alone = await runTests(files, ["-t", failed.replaceAll(" > ", " ").replace(/[.*+?^${}()|[\]\\]/g, "\\$&")]);
    if (alone.output.includes(`(fail) ${failed}`)) return failed;
  }
  return undefined;
}

/** `bun test --bail` over `files` against the mutant binary; resolves with the exit code and the output. */
function runTests(files: readonly string[], filter: readonly string[] = []): Promise<{ code: number | null; output: string; timedOut: boolean }> {
  return new Promise((resolve) => {
    const child = spawn("bun", ["test", "--timeout", "60000", "--bail", ...filter, ...files], {
      cwd: REPO,
      env: { ...process.env, TYPHOON_AGENT_BIN: binary, TEST_SEED: values.seed },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    running = child;
    let output = "";
    child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) killGroup(child.pid);
    }, MUTANT_TIMEOUT_MS);
    child.on("close", (code) => {
      clearTimeout(timer);
      running = undefined;
      resolve({ code, output, timedOut });
    });
  });
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // already gone
  }
}

function selectMutants(only: readonly string[] | undefined): readonly Mutant[] {
  if (only === undefined) return MUTANTS;
  const names = only.flatMap((name) => name.split(","));
  const unknown = names.filter((name) => !MUTANTS.some((mutant) => mutant.name === name));
  if (unknown.length > 0) {
    console.error(`mutate: no mutant named ${unknown.join(", ")} (--list shows them)`);
    process.exit(2);
  }
  return MUTANTS.filter((mutant) => names.includes(mutant.name));
}

function refuseDirtyTree(): void {
  const status = spawnSync("git", ["status", "--porcelain"], { cwd: REPO, encoding: "utf8" });
  if (status.status !== 0) {
    console.error(`mutate: git status failed: ${status.stderr.trim()}`);
    process.exit(2);
  }
  if (status.stdout.trim() !== "") {
    console.error(`mutate: the tree has uncommitted changes; commit or stash them first, so a mutant can never mix with them:\n${status.stdout}`);
    process.exit(2);
  }
}

function printTable(rows: readonly Outcome[]): void {
  const width = Math.max(6, ...rows.map((row) => row.mutant.name.length));
  const fileWidth = Math.max(4, ...rows.map((row) => row.mutant.file.length));
  console.log(`\n${"MUTANT".padEnd(width)}  ${"FILE".padEnd(fileWidth)}  RESULT    SECONDS  KILLED BY`);
  for (const row of rows) {
    console.log(`${row.mutant.name.padEnd(width)}  ${row.mutant.file.padEnd(fileWidth)}  ${row.result.padEnd(8)}  ${String(row.seconds).padStart(7)}  ${row.result === "killed" ? row.by : `(${row.mutant.breaks})`}`);
  }
  const killed = rows.filter((row) => row.result === "killed").length;
  console.log(`mutation score: ${killed}/${rows.length} killed`);
}
