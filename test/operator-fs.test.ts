// Read-only and full filesystems under every command that writes, each run inside its own
// mount namespace (`unshare -m`, so no mount leaks): the host tree, or only its /etc or its
// /var, bind-mounted read-only; and a tmpfs of a sweep of sizes too small for the run. Every
// failure is a documented exit with the errno in words and a hint ("read-only file system",
// "no space left on device"), never "undoing failed too" for a temp file that was never
// created; the managed tree stays as it was, and no transaction record, temp file or new
// backup is left behind.

import * as fs from "node:fs";
import * as path from "node:path";
import { execa } from "execa";
import { beforeAll, describe, expect, test } from "vitest";
import { AGENT } from "./helpers/agent-binary.ts";
import { makeHost, writeSampleBundle } from "./helpers/host.ts";
import { expectCleanFailure } from "./helpers/operator.ts";
import { managedTree, snapshotTree, tempDir } from "./helpers/tree.ts";
import { recordOutput } from "./helpers/canary.ts";

const isRoot = process.getuid?.() === 0;
const rootTest = isRoot ? test : test.skip;
const ENV = { TYPHOON_AGENT_JOURNAL: "stderr" };
const STATE = "var/lib/typhoon-agent";

interface Outcome {
  exitCode: number;
  stdout: string;
  stderr: string;
  before: string;
  after: string;
}

/**
 * In a private mount namespace: `setUp` (shell, with $ROOT the scratch copy of `tree`), then
 * the agent with `args` (ROOT replaced), then copies of the tree before and after, made
 * outside the mounts so the test can read them once the namespace is gone.
 */
async function runMounted(tree: string, setUp: string, args: string[]): Promise<Outcome | undefined> {
  const work = tempDir("typhoon-fs-");
  const root = path.join(work, "mnt/root");
  fs.mkdirSync(path.dirname(root), { recursive: true });
  const agent = args.map((arg) => arg.replace(/^ROOT(?=\/|$)/, root)).map((arg) => `'${arg}'`).join(" ");
  const script = [
    "set -e",
    `ROOT=${root}; MNT=${path.dirname(root)}`,
    setUp.replace("COPY", `cp -a ${tree} $ROOT`),
    `cp -a $ROOT ${work}/before`,
    `set +e; ${AGENT} ${agent} > ${work}/stdout 2> ${work}/stderr; echo $? > ${work}/exit; set -e`,
    `cp -a $ROOT ${work}/after`,
  ].join("\n");
  const run = await execa("unshare", ["--mount", "--propagation", "private", "bash", "-c", script], { reject: false, env: ENV });
  if (!fs.existsSync(path.join(work, "exit"))) {
    if (/unshare|mount/.test(run.stderr)) return undefined;
    throw new Error(run.stderr);
  }
  const read = (name: string): string => fs.readFileSync(path.join(work, name), "utf8");
  recordOutput(`typhoon-agent ${args.join(" ")} in a mount namespace`, read("stdout"), read("stderr"));
  return { exitCode: Number(read("exit")), stdout: read("stdout"), stderr: read("stderr"), before: path.join(work, "before"), after: path.join(work, "after") };
}

function expectFailedCleanly(outcome: Outcome, label: string, words: RegExp): void {
  const full = `${label}: exit ${outcome.exitCode}\n${outcome.stderr}`;
  expectCleanFailure({ exitCode: outcome.exitCode, stdout: outcome.stdout, stderr: outcome.stderr } as never, label);
  expect(outcome.stderr, full).toMatch(words);
  expect(outcome.stderr, full).toMatch(/hint: /);
  expect(outcome.stderr, full).not.toMatch(/failed too/);
  expect(managedTree(outcome.after, "compare"), full).toEqual(managedTree(outcome.before, "compare"));
}

let installed: string;
let newBundle: string;

beforeAll(async () => {
  if (!isRoot) return;
  installed = makeHost();
  await writeSampleBundle(`${installed}/home/core/assets`);
  const first = await execa(AGENT, ["apply", `${installed}/home/core/assets`, "--root", installed, "--keep-bundle"], { reject: false, env: ENV });
  if (first.exitCode !== 0) throw new Error(first.stderr);
  newBundle = path.join(tempDir("typhoon-fs-bundle-"), "assets");
  await writeSampleBundle(newBundle, { freshPki: true });
  // A second apply gives rollback a backup that replaces files, not only one that removes them.
  const second = await execa(AGENT, ["apply", newBundle, "--root", installed, "--keep-bundle"], { reject: false, env: ENV });
  if (second.exitCode !== 0) throw new Error(second.stderr);
  await writeSampleBundle(newBundle, { freshPki: true });
}, 60_000);

const READ_ONLY = /EROFS \(read-only file system\)/;

describe("read-only filesystems", () => {
  const mounts: Array<[string, string]> = [
    ["the whole tree", "mount --bind $ROOT $ROOT && mount -o remount,bind,ro $ROOT"],
    ["/etc", "mount --bind $ROOT/etc $ROOT/etc && mount -o remount,bind,ro $ROOT/etc"],
    ["/var", "mount --bind $ROOT/var $ROOT/var && mount -o remount,bind,ro $ROOT/var"],
    ["/opt", "mkdir -p $ROOT/opt && mount --bind $ROOT/opt $ROOT/opt && mount -o remount,bind,ro $ROOT/opt"],
  ];
  const commands: Array<[string, string[]]> = [
    ["apply", ["apply", "BUNDLE", "--root", "ROOT", "--keep-bundle"]],
    ["apply --role worker --change-role", ["apply", "--role", "worker", "--change-role", "--root", "ROOT"]],
    ["rollback", ["rollback", "--root", "ROOT"]],
    ["unpack", ["unpack", "BUNDLE", "-C", "ROOT/etc/unpacked"]],
    ["pack -o", ["pack", "ROOT/opt/bootstrap/assets", "-o", "ROOT/etc/packed"]],
  ];
  for (const [what, mount] of mounts) {
    rootTest(`${what} read-only: every command that writes there fails with EROFS in words and a hint, nothing left behind`, async () => {
      for (const [name, args] of commands) {
        const outcome = await runMounted(installed, `COPY\n${mount}`, args.map((arg) => arg.replace("BUNDLE", newBundle)));
        if (outcome === undefined) return;
        const label = `${name} with ${what} read-only`;
        if (outcome.exitCode === 0) {
          // It had nothing to write there (unpack into /etc when /var is read-only).
          expect(outcome.stderr, label).not.toMatch(READ_ONLY);
          continue;
        }
        expectFailedCleanly(outcome, label, READ_ONLY);
        expect(fs.readdirSync(path.join(outcome.after, STATE, "backups")).sort(), label).toEqual(fs.readdirSync(path.join(outcome.before, STATE, "backups")).sort());
      }
    }, 120_000);
  }

  rootTest("plan and verify on a read-only tree: they write nothing, and succeed", async () => {
    for (const args of [["plan", newBundle, "--root", "ROOT"], ["verify", "--root", "ROOT"]]) {
      const outcome = await runMounted(installed, "COPY\nmount --bind $ROOT $ROOT && mount -o remount,bind,ro $ROOT", args);
      if (outcome === undefined) return;
      expect(outcome.exitCode, `${args[0]}: ${outcome.stderr}`).toBe(0);
    }
  });
});

describe("full filesystems", () => {
  const commands: Array<[string, string[]]> = [
    ["apply", ["apply", "BUNDLE", "--root", "ROOT", "--keep-bundle"]],
    ["rollback", ["rollback", "--root", "ROOT"]],
    ["unpack", ["unpack", "BUNDLE", "-C", "ROOT/unpacked"]],
    ["pack -o", ["pack", "ROOT/etc/kubernetes", "-o", "ROOT/packed"]],
  ];
  for (const [name, args] of commands) {
    rootTest(`${name} on a filesystem too small for it: ENOSPC in words and a hint, nothing left behind, until a size fits`, async () => {
      const refused: number[] = [];
      for (let extra = 8; extra <= 640; extra += 24) {
        // The tree fills the tmpfs first, which then shrinks to what the tree uses plus `extra`.
        const setUp = `mount -t tmpfs -o size=64m tmpfs $MNT\nCOPY\nmount -o remount,size=$(( $(df --output=used -k $MNT | tail -1) + ${extra} ))k $MNT`;
        const outcome = await runMounted(installed, setUp, args.map((arg) => arg.replace("BUNDLE", newBundle)));
        if (outcome === undefined) return;
        if (outcome.exitCode === 0) break;
        refused.push(extra);
        expectFailedCleanly(outcome, `${name} with ${extra} KiB to spare`, /ENOSPC \(no space left on device\)/);
        expect(snapshotTree(outcome.after).has("unpacked"), name).toBe(false);
      }
      console.log(`${name}: refused cleanly with ${refused.join(", ")} KiB to spare`);
      expect(refused.length, `${name} never ran out of space`).toBeGreaterThan(0);
    }, 180_000);
  }
});
