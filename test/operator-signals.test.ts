// Signals at every phase of every command. strace stops the binary at the first system call on
// a chosen path (`-P PATH`: the configuration, the bundle, the passwd file, the lock, the
// records, a backup, an installed key, the unpack target, ...) and delivers SIGTERM, SIGINT
// or SIGHUP there; afterwards the tree is checked, whatever the exit:
//   apply, rollback  the managed tree before or after, never between; no temp file, no
//                    transaction record; apply's result.json and its closing journal entry
//                    ("apply done" or "apply failed") always there
//   unpack, pack -o  the target as it was, or complete; no staging directory or temp file
//   plan, verify, render  nothing written (a signal ends them as it ends any program)

import { execSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { execa } from "execa";
import { beforeAll, describe, expect, test } from "vitest";
import { AGENT } from "./helpers/agent-binary.ts";
import { makeHost, writeSampleBundle } from "./helpers/host.ts";
import { managedTree, snapshotTree, tempDir } from "./helpers/tree.ts";
import { recorded } from "./helpers/canary.ts";
import { hasCommand } from "./helpers/pki-replacement.ts";

const usable = process.getuid?.() === 0 && hasCommand("strace");
if (!usable) console.log("signal tests skipped: they need root and strace");
const signalTest = usable ? test : test.skip;
const ENV = { TYPHOON_AGENT_JOURNAL: "stderr" };
const SIGNALS = ["SIGTERM", "SIGINT", "SIGHUP"];
const STATE = "var/lib/typhoon-agent";
const LEFTOVER = /\.typhoon-agent[.-]|state\.json$|\.tmp$/;

interface Stopped {
  exitCode: number | undefined;
  signal: string | undefined;
  stderr: string;
}

/** Runs the agent with `signal` delivered at its first system call on `at` (a real path). */
async function stopAt(at: string, signal: string, args: readonly string[]): Promise<Stopped> {
  const strace = ["-f", "-qq", "-o", "/dev/null", "-P", at, "-e", "trace=%file,%desc", "-e", `inject=%file,%desc:signal=${signal}:when=1`];
  const run = recorded(`typhoon-agent ${args.join(" ")} with ${signal} at ${at}`, await execa("strace", [...strace, AGENT, ...args], { reject: false, env: ENV }));
  // strace exits as its tracee did; a tracee killed by a signal shows as 128 + its number.
  return { exitCode: run.exitCode, signal: run.signal ?? (run.exitCode !== undefined && run.exitCode > 128 ? `signal ${run.exitCode - 128}` : undefined), stderr: run.stderr };
}

function copyTree(from: string, to: string): string {
  fs.rmSync(to, { recursive: true, force: true });
  execSync(`cp -a ${from} ${to}`);
  return to;
}

function leftovers(root: string): string[] {
  return [...snapshotTree(root).keys()].filter((name) => LEFTOVER.test(name));
}

function expectNoTrace(run: Stopped, label: string): void {
  expect(run.stderr, label).not.toMatch(/internal error|\n\s+at .*\(|\bat <anonymous>/);
}

let work: string;
let installed: string;
let newBundle: string;
let applied: string;

beforeAll(async () => {
  if (!usable) return;
  work = tempDir("typhoon-signals-");
  installed = makeHost();
  await writeSampleBundle(`${installed}/home/core/assets`);
  const first = await execa(AGENT, ["apply", `${installed}/home/core/assets`, "--root", installed, "--keep-bundle"], { reject: false, env: ENV });
  if (first.exitCode !== 0) throw new Error(first.stderr);
  newBundle = path.join(work, "new-bundle");
  await writeSampleBundle(newBundle, { freshPki: true });
  applied = copyTree(installed, path.join(work, "applied"));
  const second = await execa(AGENT, ["apply", newBundle, "--root", applied, "--keep-bundle"], { reject: false, env: ENV });
  if (second.exitCode !== 0) throw new Error(second.stderr);
}, 60_000);

describe("signals during apply and rollback", () => {
  const applyPoints = ["etc/typhoon/agent.yaml", "BUNDLE", "etc/passwd", `${STATE}/lock`, `${STATE}/installed.json`, `${STATE}/state.json`, `${STATE}/backups`, "etc/kubernetes/pki/apiserver.key", "etc/systemd/system/kubelet.service", `${STATE}/result.json`];

  signalTest(`apply stopped at ${applyPoints.length} points: the tree before or after, its result and closing entry written`, async () => {
    const outcomes: string[] = [];
    for (const [index, point] of applyPoints.entries()) {
      const signal = SIGNALS[index % SIGNALS.length]!;
      const root = copyTree(installed, path.join(work, `apply-${index}`));
      fs.rmSync(path.join(root, STATE, "result.json"));
      const at = point === "BUNDLE" ? newBundle : path.join(root, point);
      const run = await stopAt(at, signal, ["apply", newBundle, "--root", root, "--keep-bundle"]);
      const label = `${signal} at ${point}: exit ${run.exitCode} ${run.signal ?? ""}\n${run.stderr}`;
      outcomes.push(`${point}:${run.exitCode ?? run.signal}`);
      expectNoTrace(run, label);
      expect([0, 1], label).toContain(run.exitCode ?? -1);
      expect(managedTree(root), label).toEqual(managedTree(run.exitCode === 0 ? applied : installed));
      expect(leftovers(root), label).toEqual([]);
      const result = JSON.parse(fs.readFileSync(path.join(root, STATE, "result.json"), "utf8")) as { exitCode: number };
      expect(result.exitCode, label).toBe(run.exitCode ?? -1);
      expect(run.stderr, label).toMatch(run.exitCode === 0 ? /typhoon-agent apply applied/ : new RegExp(`apply failed: .*interrupted by ${signal}`));
    }
    console.log(`apply under signals: ${outcomes.join(" ")}`);
    expect(outcomes.filter((outcome) => outcome.endsWith(":1")).length, "no signal stopped an apply").toBeGreaterThan(3);
  }, 120_000);

  const rollbackPoints = [`${STATE}/lock`, `${STATE}/state.json`, `${STATE}/backups`, "etc/kubernetes/pki/apiserver.key", "etc/systemd/system/kubelet.service"];

  signalTest(`rollback stopped at ${rollbackPoints.length} points: the tree before or after it, the backup kept unless it finished`, async () => {
    const undone = copyTree(applied, path.join(work, "rolled-back"));
    expect((await execa(AGENT, ["rollback", "--root", undone], { reject: false, env: ENV })).exitCode).toBe(0);
    for (const [index, point] of rollbackPoints.entries()) {
      const signal = SIGNALS[index % SIGNALS.length]!;
      const root = copyTree(applied, path.join(work, `rollback-${index}`));
      const backups = fs.readdirSync(path.join(root, STATE, "backups"));
      const run = await stopAt(path.join(root, point), signal, ["rollback", "--root", root]);
      const label = `${signal} at ${point}: exit ${run.exitCode}\n${run.stderr}`;
      expectNoTrace(run, label);
      expect([0, 1], label).toContain(run.exitCode ?? -1);
      expect(managedTree(root), label).toEqual(managedTree(run.exitCode === 0 ? undone : applied));
      expect(leftovers(root), label).toEqual([]);
      expect(fs.readdirSync(path.join(root, STATE, "backups")).length, label).toBe(backups.length - (run.exitCode === 0 ? 1 : 0));
    }
  }, 120_000);
});

describe("signals during unpack and pack", () => {
  signalTest("unpack stopped at its bundle, its target and an asset: the target as it was or complete, no staging left", async () => {
    const complete = path.join(work, "unpacked");
    expect((await execa(AGENT, ["unpack", newBundle, "-C", complete])).exitCode).toBe(0);
    let index = 0;
    for (const existing of [false, true]) {
      for (const point of ["BUNDLE", "TARGET", "TARGET/tls/k8s/ca.key", "TARGET/manifests"]) {
        const signal = SIGNALS[index++ % SIGNALS.length]!;
        const parent = tempDir("typhoon-signals-unpack-");
        const target = path.join(parent, "made/by/unpack");
        if (existing) fs.mkdirSync(path.dirname(target), { recursive: true });
        if (existing) copyTree(path.join(work, "unpacked"), target);
        if (existing) fs.writeFileSync(path.join(target, "tls/k8s/ca.key"), "old\n");
        const before = snapshotTree(parent);
        const at = point === "BUNDLE" ? newBundle : point.replace("TARGET", target);
        const run = await stopAt(at, signal, ["unpack", newBundle, "-C", target]);
        const label = `${existing ? "existing" : "new"} target, ${signal} at ${point}: exit ${run.exitCode}\n${run.stderr}`;
        expectNoTrace(run, label);
        expect([0, 1], label).toContain(run.exitCode ?? -1);
        if (run.exitCode === 0) expect(snapshotTree(target), label).toEqual(snapshotTree(complete));
        else expect(snapshotTree(parent), label).toEqual(before);
        expect(leftovers(parent), label).toEqual([]);
      }
    }
  }, 120_000);

  signalTest("pack -o stopped at a source file and at its output: the output complete or absent, no temp file", async () => {
    const source = path.join(work, "unpacked");
    const whole = await execa(AGENT, ["pack", source], { encoding: "buffer", stripFinalNewline: false });
    for (const [index, point] of ["SOURCE/tls/k8s/ca.key", "SOURCE/manifests", "OUTPUT", "OUTDIR"].entries()) {
      const signal = SIGNALS[index % SIGNALS.length]!;
      const outdir = tempDir("typhoon-signals-pack-");
      const output = path.join(outdir, "assets");
      const at = point.replace("SOURCE", source).replace("OUTPUT", output).replace("OUTDIR", outdir);
      const run = await stopAt(at, signal, ["pack", source, "-o", output]);
      const label = `${signal} at ${point}: exit ${run.exitCode}\n${run.stderr}`;
      expectNoTrace(run, label);
      expect([0, 1], label).toContain(run.exitCode ?? -1);
      expect(fs.readdirSync(outdir), label).toEqual(run.exitCode === 0 ? ["assets"] : []);
      if (run.exitCode === 0) expect(fs.readFileSync(output).equals(whole.stdout as unknown as Buffer), label).toBe(true);
    }
  }, 60_000);
});

describe("signals during the commands that change nothing", () => {
  signalTest("plan, verify and render stopped where they read: nothing written, no trace", async () => {
    const root = copyTree(installed, path.join(work, "read-only"));
    const before = snapshotTree(root);
    const runs: Array<[string[], string]> = [
      [["plan", newBundle, "--root", root], newBundle],
      [["plan", newBundle, "--root", root], path.join(root, STATE, "installed.json")],
      [["verify", "--root", root], path.join(root, STATE, "installed.json")],
      [["verify", "--root", root], path.join(root, "etc/kubernetes/pki/ca.key")],
      [["render", "kubelet", "--root", root], path.join(root, "etc/os-release")],
      [["render", "agent-config", "--root", root], path.join(root, "etc/typhoon/agent.yaml")],
    ];
    for (const [index, [args, at]] of runs.entries()) {
      const signal = SIGNALS[index % SIGNALS.length]!;
      const run = await stopAt(at, signal, args);
      const label = `${args[0]}, ${signal} at ${at}: exit ${run.exitCode} ${run.signal ?? ""}`;
      expectNoTrace(run, label);
      expect(run.exitCode === 0 || run.signal !== undefined, label).toBe(true);
      expect(snapshotTree(root), label).toEqual(before);
    }
  }, 60_000);
});
