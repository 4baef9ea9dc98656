// rollback never removes or replaces what the agent did not put there. Generated over the kinds
// of object an operator (or anything else) can leave where the agent installed a file or a
// directory, and over what the rollback would do to that path: remove a file or a directory
// the last apply created, or restore a file or a directory mode the last apply replaced or
// repaired. Each run must refuse with exit 73 naming the path and what is there, change
// nothing (the foreign object with its data, the backup, every other file), and its hint must
// work: after the `mv` it prints, rollback succeeds and the moved object is still there.

import { execSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { runAgent } from "./helpers/agent-binary.ts";
import { makeHost, writeSampleBundle } from "./helpers/host.ts";
import { expectCleanFailure } from "./helpers/operator.ts";
import { snapshotTree, tempDir } from "./helpers/tree.ts";

const ENV = { TYPHOON_AGENT_JOURNAL: "stderr" };
const rootTest = process.getuid?.() === 0 ? test : test.skip;

/** A foreign object: how to make it at a real path, and the words rollback must use for it. */
interface Foreign {
  kind: string;
  words: RegExp;
  make(real: string): void;
}

const FOREIGN: Foreign[] = [
  {
    kind: "a directory holding data",
    words: /is a directory/,
    make: (real) => {
      fs.mkdirSync(`${real}/sub`, { recursive: true });
      fs.writeFileSync(`${real}/sub/data`, "precious\n");
    },
  },
  { kind: "a regular file", words: /is a regular file/, make: (real) => fs.writeFileSync(real, "precious\n") },
  { kind: "a FIFO", words: /is a FIFO/, make: (real) => execSync(`mkfifo ${real}`) },
  { kind: "a character device", words: /is a character device/, make: (real) => execSync(`mknod ${real} c 1 3`) },
  { kind: "a socket", words: /is a socket/, make: (real) => execSync(`python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' ${real}`) },
  {
    kind: "a symlink to a file",
    words: /is a symlink/,
    make: (real) => {
      fs.writeFileSync(`${real}-target`, "precious\n");
      fs.symlinkSync(`${path.basename(real)}-target`, real);
    },
  },
  { kind: "a dangling symlink", words: /is a symlink/, make: (real) => fs.symlinkSync("/nonexistent", real) },
];

/** Where the foreign object goes, in which tree, and what the agent installed there. */
interface Place {
  what: string;
  tree: "installed" | "upgraded";
  path: string;
  agentPut: "file" | "directory";
}

const PLACES: Place[] = [
  { what: "a file the last apply created (rollback would remove it)", tree: "installed", path: "/etc/kubernetes/pki/ca.key", agentPut: "file" },
  { what: "a directory the last apply created (rollback would remove it)", tree: "installed", path: "/opt/bootstrap/assets/manifests/network", agentPut: "directory" },
  { what: "a file the last apply replaced (rollback would restore it)", tree: "upgraded", path: "/etc/kubernetes/pki/apiserver.key", agentPut: "file" },
  { what: "a directory whose mode the last apply repaired (rollback would restore it)", tree: "upgraded", path: "/etc/ssl/etcd/etcd", agentPut: "directory" },
];

const trees: Record<Place["tree"], string> = { installed: "", upgraded: "" };

beforeAll(async () => {
  if (process.getuid?.() !== 0) return;
  const work = tempDir("typhoon-rollback-foreign-");
  const first = path.join(work, "b1");
  const second = path.join(work, "b2");
  await writeSampleBundle(first);
  await writeSampleBundle(second, { freshPki: true });
  trees.installed = makeHost();
  const install = await runAgent(["apply", first, "--root", trees.installed, "--keep-bundle"], { env: ENV });
  expect(install.exitCode, String(install.stderr)).toBe(0);
  trees.upgraded = path.join(work, "upgraded");
  execSync(`cp -a ${trees.installed} ${trees.upgraded}`);
  // Something to repair, so the upgrade's backup holds a directory mode to restore.
  fs.chmodSync(`${trees.upgraded}/etc/ssl/etcd/etcd`, 0o755);
  const upgrade = await runAgent(["apply", second, "--root", trees.upgraded, "--keep-bundle"], { env: ENV });
  expect(upgrade.exitCode, String(upgrade.stderr)).toBe(0);
}, 60_000);

describe("rollback refuses to remove or replace what the agent did not put there", () => {
  for (const place of PLACES) {
    for (const foreign of FOREIGN) {
      // The agent's own type there is not foreign.
      if (foreign.kind === (place.agentPut === "file" ? "a regular file" : "a directory holding data")) continue;
      rootTest(`${foreign.kind} at ${place.what}: exit 73, nothing changed, the hint works`, async () => {
        const root = tempDir("typhoon-rollback-case-");
        execSync(`cp -a ${trees[place.tree]}/. ${root}`);
        const real = `${root}${place.path}`;
        fs.rmSync(real, { recursive: true });
        foreign.make(real);
        const before = snapshotTree(root);

        const refused = await runAgent(["rollback", "--root", root, "--no-start"], { env: ENV });
        const label = `${foreign.kind} at ${place.path}`;
        expectCleanFailure(refused, label);
        expect(refused.exitCode, `${label}\n${String(refused.stderr)}`).toBe(73);
        const stderr = String(refused.stderr);
        expect(stderr, label).toContain(place.path);
        expect(stderr, label).toMatch(foreign.words);
        expect(stderr, label).toContain("nothing was changed");
        expect(String(refused.stdout), label).toBe("");
        expect(snapshotTree(root), `${label}: the tree, the foreign object and the backup as they were`).toEqual(before);

        // The hint's command, run as printed, clears the way; the next rollback succeeds and the moved object survives.
        const move = /mv -- (\S+) (\S+)/.exec(stderr);
        expect(move, `${label}: no mv in the hint\n${stderr}`).not.toBeNull();
        execSync(move![0]);
        const retried = await runAgent(["rollback", "--root", root, "--no-start"], { env: ENV });
        expect(retried.exitCode, `${label}, after the hint\n${String(retried.stderr)}`).toBe(0);
        const aside = fs.lstatSync(move![2]!);
        expect(aside.isFile() || aside.isDirectory() || aside.isSymbolicLink() || aside.isFIFO() || aside.isCharacterDevice() || aside.isSocket(), label).toBe(true);
        if (foreign.kind === "a directory holding data") expect(fs.readFileSync(`${move![2]}/sub/data`, "utf8")).toBe("precious\n");
      }, 30_000);
    }
  }
});
