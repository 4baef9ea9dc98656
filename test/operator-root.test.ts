// `--root DIR` names a directory that exists: a mistyped path, or the mount point of a node's
// disk that failed to mount, must never become a tree the agent creates and writes into (a
// verify's metrics, a failed apply's result.json, a whole worker). Generated over every
// command whose --help lists --root and every way the value can fail to be a directory: a
// usage error (exit 2) naming the flag and the value, with a hint, and nothing created.

import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, test } from "vitest";
import { runAgent } from "./helpers/agent-binary.ts";
import { makeHost, writeSampleBundle } from "./helpers/host.ts";
import { expectCleanFailure } from "./helpers/operator.ts";
import { snapshotTree, tempDir } from "./helpers/tree.ts";

const isRoot = process.getuid?.() === 0;
const rootTest = isRoot ? test : test.skip;
const QUIET = { TYPHOON_AGENT_JOURNAL: "stderr" };

/** The commands whose --help lists --root, read from the top-level --help. */
async function rootCommands(): Promise<string[]> {
  const help = String((await runAgent(["--help"])).stdout);
  const names = [...help.matchAll(/^ {2}typhoon-agent (\w+)/gm)].map((match) => match[1]!);
  const withRoot = await Promise.all(names.map(async (name) => ((await runAgent([name, "--help"])).stdout as string).includes("--root") ? name : undefined));
  return withRoot.filter((name): name is string => name !== undefined);
}

/** The arguments that make `command` run against `root` (a bundle where it takes one). */
function argsFor(command: string, root: string, bundle: string): string[] {
  if (command === "apply" || command === "plan") return [command, bundle, "--root", root, "--no-start"].filter((word) => command === "apply" || word !== "--no-start");
  if (command === "render") return ["render", "kubelet", "--root", root];
  return [command, "--root", root];
}

/** Every way a --root value names no directory, made inside `scratch`. */
function badRoots(scratch: string): Array<{ form: string; root: string }> {
  fs.writeFileSync(path.join(scratch, "file"), "not a directory\n");
  fs.symlinkSync("missing", path.join(scratch, "dangling"));
  fs.symlinkSync("file", path.join(scratch, "link-to-file"));
  fs.symlinkSync("loop", path.join(scratch, "loop"));
  return [
    { form: "missing", root: path.join(scratch, "missing") },
    { form: "missing parent", root: path.join(scratch, "missing/node") },
    { form: "missing, trailing slash", root: `${path.join(scratch, "missing")}/` },
    { form: "a regular file", root: path.join(scratch, "file") },
    { form: "below a regular file", root: path.join(scratch, "file/node") },
    { form: "a dangling symlink", root: path.join(scratch, "dangling") },
    { form: "a symlink to a file", root: path.join(scratch, "link-to-file") },
    { form: "a symlink loop", root: path.join(scratch, "loop") },
    { form: "relative, missing", root: "missing-relative" },
  ];
}

describe("--root names an existing directory", () => {
  rootTest("every command that takes --root, every way its value is not a directory: exit 2 naming flag and value, nothing created", async () => {
    const scratch = tempDir("typhoon-badroot-");
    const bundleHost = makeHost();
    const bundle = path.join(bundleHost, "home/core/assets");
    await writeSampleBundle(bundle);
    const commands = await rootCommands();
    expect(commands.sort()).toEqual(["apply", "plan", "render", "rollback", "verify"]);
    const roots = badRoots(scratch);
    const before = snapshotTree(scratch);
    const wrong: string[] = [];
    for (const command of commands) {
      const results = await Promise.all(roots.map(({ root }) => runAgent(argsFor(command, root, bundle), { env: QUIET, cwd: scratch })));
      for (const [index, result] of results.entries()) {
        const { form, root } = roots[index]!;
        const label = `${command} --root <${form}>`;
        expectCleanFailure(result, label);
        const stderr = String(result.stderr);
        const said = result.exitCode === 2 && stderr.includes(`--root ${root}`) && stderr.includes("is the node's filesystem mounted there?") && result.stdout === "";
        if (!said) wrong.push(`${label}: exit ${result.exitCode} ${stderr.trim()}`);
      }
    }
    expect(wrong).toEqual([]);
    expect(snapshotTree(scratch)).toEqual(before);
  }, 120_000);

  rootTest("a symlink to a directory is followed: the node's tree below it", async () => {
    const root = makeHost();
    const link = path.join(tempDir("typhoon-rootlink-"), "node");
    fs.symlinkSync(root, link);
    const result = await runAgent(["apply", "--role", "worker", "--root", link, "--no-start"], { env: QUIET });
    expect(result.exitCode, String(result.stderr)).toBe(0);
    expect(fs.existsSync(path.join(root, "etc/systemd/system/kubelet.service"))).toBe(true);
  });

  rootTest("the README says so", () => {
    const readme = fs.readFileSync(path.join(import.meta.dir, "../README.md"), "utf8");
    expect(readme).toContain("`--root DIR` must name an existing directory");
    expect(readme).toContain("and so is `/` spelled otherwise (`--root /.`, `--root //`, `--root /tmp/..`, a symlink to `/`)");
  });
});
