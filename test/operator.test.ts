// Operator mistakes and hostile states, each a generated class of input rather than one
// frozen example: an empty --root, a role flip on an installed node, asset paths that only
// become too long below the target, a transaction record the agent cannot complete, and
// damaged kubeconfigs whose parser errors must not quote the key they hold.

import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, test } from "vitest";
import { terraformBundle } from "../scripts/make-bundle.ts";
import { runAgent, type AgentResult } from "./helpers/agent-binary.ts";
import { makeHostTree } from "../scripts/sample-host.ts";
import { makeHost, sampleAssets, writeSampleBundle } from "./helpers/host.ts";
import { expectCleanFailure } from "./helpers/operator.ts";
import { applyOnOverlay } from "./helpers/overlay-host.ts";
import { secretFragments, findLeak } from "./helpers/secrets.ts";
import { managedTree, snapshotIgnoringRunRecord, snapshotTree, tempDir } from "./helpers/tree.ts";

const isRoot = process.getuid?.() === 0;
if (!isRoot) console.log("operator tests skipped: apply chowns files to other users and needs root");
const rootTest = isRoot ? test : test.skip;

const QUIET = { env: { TYPHOON_AGENT_JOURNAL: "stderr" } };
const STATE = "var/lib/typhoon-agent";
const stderrOf = (result: AgentResult): string => String(result.stderr);

describe("an empty --root is a usage error, never the live root", () => {
  const commands = ["apply ASSETS", "plan ASSETS", "apply --role worker", "rollback", "verify", "render kubelet", "render config", "render agent-config"];
  const emptyForms = [`--root ""`, "--root=", `--root "$UNSET_ROOT"`, "--root"];

  rootTest("every command, every way of writing an empty value: exit 2, nothing read or written", async () => {
    const runs = commands.flatMap((command) => emptyForms.map((form) => `${command} ${form}`));
    const run = await applyOnOverlay(`echo "$*" >> $LOG`, runs);
    if (run === undefined) return;
    expect(run.exitCodes.map((code, index) => `${runs[index]} -> ${code}`)).toEqual(runs.map((args) => `${args} -> 2`));
    expect(fs.existsSync(path.join(run.work, "systemctl.log"))).toBe(false);
    // The overlay set-up copies passwd, group and os-release into /etc; anything else is a write.
    const written = [...snapshotTree(path.join(run.work, "upper")).entries()]
      .filter(([name, entry]) => entry.type !== "directory" && !["etc/passwd", "etc/group", "etc/os-release"].includes(name))
      .map(([name]) => name);
    expect(written).toEqual([]);
    expect(fs.readdirSync(run.cwd), "nothing written where the runs started").toEqual([]);
    expect(run.stderr).toContain("--root");
    expect(run.stderr).not.toMatch(/internal error/);
  });

  rootTest("--root / spelled so is the host, as documented", async () => {
    const run = await applyOnOverlay(`echo "$*" >> $LOG`, ["verify --root /", "render config --root /"]);
    if (run === undefined) return;
    // No install record on the overlaid host: verify says so (66); render prints.
    expect(run.exitCodes).toEqual([66, 0]);
  });
});

describe("changing the role of an installed node is refused unless asked for", () => {
  interface RoleCase {
    name: string;
    install: (root: string, bundle: string) => string[];
    flip: (root: string, bundle: string) => string[];
    /** A path of the installed role that the flip would remove or that shows the change. */
    names: string;
    /** Done to the installed node before the flip. */
    afterInstall?: (root: string) => void;
  }
  const cases: RoleCase[] = [
    {
      name: "controller -> worker by flag",
      install: (root, bundle) => ["apply", bundle, "--root", root, "--keep-bundle"],
      flip: (root) => ["apply", "--role", "worker", "--root", root],
      names: "/etc/kubernetes/pki",
    },
    {
      name: "controller -> worker by agent.yaml",
      install: (root, bundle) => ["apply", bundle, "--root", root, "--keep-bundle"],
      flip: (root) => {
        fs.mkdirSync(`${root}/etc/typhoon`, { recursive: true });
        fs.writeFileSync(`${root}/etc/typhoon/agent.yaml`, "role: worker\n");
        return ["apply", "--root", root];
      },
      names: "/etc/kubernetes/pki",
    },
    {
      name: "controller installed by an older agent (a record without its configuration) -> worker by flag",
      install: (root, bundle) => ["apply", bundle, "--root", root, "--keep-bundle"],
      afterInstall: (root) => {
        const record = `${root}/${STATE}/installed.json`;
        const { files } = JSON.parse(fs.readFileSync(record, "utf8")) as { files: string[] };
        fs.writeFileSync(record, `${JSON.stringify({ files }, null, 1)}\n`);
      },
      flip: (root) => ["apply", "--role", "worker", "--root", root],
      names: "/etc/kubernetes/pki",
    },
    {
      name: "worker -> controller by bundle",
      install: (root) => ["apply", "--role", "worker", "--root", root],
      flip: (root, bundle) => ["apply", bundle, "--root", root, "--keep-bundle"],
      names: "worker",
    },
  ];

  for (const roleCase of cases) {
    rootTest(`${roleCase.name}: plan and apply exit 78 naming --change-role, nothing touched; with it the change happens`, async () => {
      const root = makeHost();
      const bundle = `${root}/home/core/assets`;
      await writeSampleBundle(bundle);
      const installed = await runAgent(roleCase.install(root, bundle), QUIET);
      expect(installed.exitCode, stderrOf(installed)).toBe(0);
      roleCase.afterInstall?.(root);
      const flip = roleCase.flip(root, bundle);
      const before = snapshotTree(root);
      for (const command of ["plan", "apply"]) {
        // --keep-bundle is apply's alone: plan refuses it as an unknown option.
        const refused = await runAgent([command, ...flip.slice(1).filter((arg) => command === "apply" || arg !== "--keep-bundle")], QUIET);
        expect(refused.exitCode, `${command}: ${stderrOf(refused)}`).toBe(78);
        expect(stderrOf(refused)).toContain("--change-role");
        expect(stderrOf(refused)).toContain(roleCase.names);
        expectCleanFailure(refused, command);
        expect(snapshotIgnoringRunRecord(root, before)).toEqual(before);
      }
      const changed = await runAgent([...flip, "--change-role"], QUIET);
      expect(changed.exitCode, stderrOf(changed)).toBe(0);
      // and the change is one rollback away from undone
      const undone = await runAgent(["rollback", "--root", root], QUIET);
      expect(undone.exitCode, stderrOf(undone)).toBe(0);
    });
  }
});

describe("paths that only become too long below the target are refused before the first write", () => {
  const PATH_MAX = 4096; // bytes with the terminating NUL

  /** A scratch host whose --root path is itself about `length` bytes long. */
  function deepRoot(length: number): string {
    let root = tempDir("typhoon-deep-");
    while (root.length < length - 1) root = path.join(root, "d".repeat(Math.min(200, length - root.length - 1)));
    fs.mkdirSync(root, { recursive: true });
    return makeHostTree(root);
  }

  /** An asset name under manifests/ of exactly `length` bytes: 200-byte directories, then a file. */
  function longName(length: number): string {
    const directories = Math.floor((length - "manifests/".length - "x.yaml".length) / 201);
    const fileLength = length - "manifests/".length - 201 * directories;
    return `manifests/${"d".repeat(200).concat("/").repeat(directories)}${"x".repeat(fileLength - 5)}.yaml`;
  }

  rootTest("installed lengths around PATH_MAX: installed whole or refused (65) with nothing touched, never stuck", async () => {
    const root = deepRoot(700);
    const assets = await sampleAssets();
    const prefix = root.length + "/opt/bootstrap/assets/".length;
    for (let installedLength = PATH_MAX - 96; installedLength <= PATH_MAX + 16; installedLength += 16) {
      const name = longName(installedLength - prefix);
      const label = `installed path of ${prefix + name.length} bytes`;
      const withLong = new Map([...assets, [name, "kind: ConfigMap\n"]]);
      const bundle = path.join(root, "home/core/assets");
      fs.writeFileSync(bundle, terraformBundle(withLong), { mode: 0o600 });
      const before = snapshotTree(root);
      const plan = await runAgent(["plan", bundle, "--root", root], QUIET);
      const apply = await runAgent(["apply", bundle, "--root", root, "--keep-bundle"], QUIET);
      expect(apply.exitCode, `${label}: plan and apply agree`).toBe(plan.exitCode);
      if (apply.exitCode === 0) {
        expect(fs.existsSync(path.join(root, "opt/bootstrap/assets", name)), label).toBe(true);
      } else {
        expect(apply.exitCode, `${label}: ${stderrOf(apply)}`).toBe(65);
        expect(stderrOf(apply), label).toMatch(/too long/);
        expect(snapshotIgnoringRunRecord(root, before), label).toEqual(before);
      }
      if (prefix + name.length + 1 > PATH_MAX) expect(apply.exitCode, label).toBe(65);
      if (prefix + name.length + 1 <= PATH_MAX - 64) expect(apply.exitCode, `${label}: ${stderrOf(apply)}`).toBe(0);
      expect(fs.existsSync(path.join(root, STATE, "state.json")), label).toBe(false);
      if (apply.exitCode !== 0) expectCleanFailure(apply, label);
    }
    // and a good bundle still applies afterwards
    fs.writeFileSync(path.join(root, "home/core/assets"), terraformBundle(assets), { mode: 0o600 });
    const good = await runAgent(["apply", path.join(root, "home/core/assets"), "--root", root], QUIET);
    expect(good.exitCode, stderrOf(good)).toBe(0);
  });
});

describe("a transaction record the agent cannot complete never wedges the node", () => {
  /** Records a dead apply could have left that no recovery can finish, each a different errno. */
  const records: Array<{ name: string; make: (root: string) => object }> = [
    {
      name: "a commit whose target became a non-empty directory (EISDIR/ENOTEMPTY)",
      make: (root) => {
        const dir = "/opt/bootstrap/assets/gone";
        fs.mkdirSync(`${root}${dir}/x.yaml/inside`, { recursive: true });
        fs.writeFileSync(`${root}${dir}/.typhoon-agent.20260101T000000000Z.1.tmp`, "kind: ConfigMap\n", { mode: 0o600 });
        return { kind: "write", target: `${dir}/x.yaml`, temp: `${dir}/.typhoon-agent.20260101T000000000Z.1.tmp`, undo: undefined, uid: 0, gid: 0, mode: 0o600 };
      },
    },
    {
      name: "a commit naming a path longer than PATH_MAX (ENAMETOOLONG)",
      make: () => {
        const dir = `/opt/bootstrap/assets/${Array.from({ length: 20 }, () => "n".repeat(250)).join("/")}`;
        return { kind: "remove", target: `${dir}/x.yaml`, undo: `${dir}/.typhoon-agent.20260101T000000000Z.1.orig` };
      },
    },
    {
      name: "a commit whose temp file's directory is now a regular file (ENOTDIR)",
      make: (root) => {
        fs.mkdirSync(`${root}/opt/bootstrap/assets`, { recursive: true });
        fs.writeFileSync(`${root}/opt/bootstrap/assets/flat`, "");
        return { kind: "write", target: "/opt/bootstrap/assets/flat/x.yaml", temp: "/opt/bootstrap/assets/flat/.typhoon-agent.20260101T000000000Z.1.tmp", undo: "/opt/bootstrap/assets/flat/.typhoon-agent.20260101T000000000Z.1.orig", uid: 0, gid: 0, mode: 0o600 };
      },
    },
  ];

  for (const record of records) {
    rootTest(`${record.name}: reported with the manual steps, rollback does not crash, and a good apply succeeds`, async () => {
      const root = makeHost();
      const bundle = `${root}/home/core/assets`;
      await writeSampleBundle(bundle);
      expect((await runAgent(["apply", bundle, "--root", root, "--keep-bundle"], QUIET)).exitCode).toBe(0);
      const step = record.make(root);
      fs.writeFileSync(
        path.join(root, STATE, "state.json"),
        JSON.stringify({ version: 1, id: "20260101T000000000Z", phase: "commit", startedAt: "2026-01-01T00:00:00.000Z", steps: [step] }),
        { mode: 0o600 },
      );
      const first = await runAgent(["apply", bundle, "--root", root, "--keep-bundle"], QUIET);
      expectCleanFailure(first, "first apply");
      if (first.exitCode !== 0) {
        expect(stderrOf(first)).toContain("state.json");
        expect(stderrOf(first)).toMatch(/hint: .*(mv|rm) /);
      }
      const rollback = await runAgent(["rollback", "--root", root], QUIET);
      if (rollback.exitCode !== 0) expectCleanFailure(rollback, "rollback");
      const good = await runAgent(["apply", bundle, "--root", root, "--keep-bundle"], QUIET);
      expect(good.exitCode, stderrOf(good)).toBe(0);
      const verify = await runAgent(["verify", "--root", root], QUIET);
      expect(verify.exitCode, stderrOf(verify)).toBe(0);
    });
  }
});

describe("no output quotes a secret", () => {
  /** Ways a hand edit breaks a kubeconfig, each at several places of its key. */
  const damages: Array<{ name: string; damage: (text: string, at: number) => string }> = [
    { name: "a stray ': ' inside client-key-data", damage: (text, at) => insertInKey(text, at, ": ") },
    { name: "a tab inside client-key-data", damage: (text, at) => insertInKey(text, at, "\t") },
    { name: "a quote inside client-key-data", damage: (text, at) => insertInKey(text, at, '"') },
    { name: "the key line cut short, then a bad indent", damage: (text, at) => insertInKey(text, at, "\n   - x: [") },
    { name: "the file truncated inside the key", damage: (text, at) => text.slice(0, keyStart(text) + at) },
  ];

  function keyStart(text: string): number {
    const marker = "client-key-data: ";
    return text.indexOf(marker) + marker.length;
  }
  function insertInKey(text: string, at: number, insert: string): string {
    const start = keyStart(text) + at;
    return text.slice(0, start) + insert + text.slice(start);
  }

  rootTest("verify on damaged kubeconfigs: text, --json and journal lines name the file and position only", async () => {
    const root = makeHost();
    const bundle = `${root}/home/core/assets`;
    const assets = await writeSampleBundle(bundle);
    expect((await runAgent(["apply", bundle, "--root", root], QUIET)).exitCode).toBe(0);
    const fragments = secretFragments(assets);
    for (const kubeconfig of ["admin.conf", "controller-manager.conf", "scheduler.conf"]) {
      const file = `${root}/etc/kubernetes/pki/${kubeconfig}`;
      const original = fs.readFileSync(file, "utf8");
      for (const { name, damage } of damages) {
        for (const at of [1, 40, 200, 900]) {
          fs.writeFileSync(file, damage(original, at));
          for (const args of [["verify", "--root", root], ["verify", "--root", root, "--json"]]) {
            const result = await runAgent(args, QUIET);
            const leak = findLeak(`${String(result.stdout)}\n${stderrOf(result)}`, fragments);
            expect(leak, `${kubeconfig}, ${name} at ${at}, ${args.join(" ")}`).toBeUndefined();
            expect(result.exitCode, `${kubeconfig}, ${name}`).toBe(1);
          }
        }
      }
      fs.writeFileSync(file, original);
    }
  });

  rootTest("--config pointed at a secret (a key, a kubeconfig, a token): refused, the file never quoted, in any command's output or the result file", async () => {
    const root = makeHost();
    const bundle = `${root}/home/core/assets`;
    const assets = await writeSampleBundle(bundle);
    expect((await runAgent(["apply", bundle, "--root", root, "--keep-bundle"], QUIET)).exitCode).toBe(0);
    const fragments = secretFragments(assets);
    const secrets = [...assets.keys()].filter((name) => /\.(key|conf)$|bootstrap-token/.test(name));
    expect(secrets.length).toBeGreaterThan(5);
    const installedBefore = managedTree(root);
    for (const name of secrets) {
      const file = path.join(tempDir(), path.basename(name));
      fs.writeFileSync(file, assets.get(name)!);
      for (const command of [["apply", bundle], ["plan", bundle], ["verify"], ["verify", "--json"], ["render", "kubelet"], ["render", "agent-config"]]) {
        const result = await runAgent([...command, "--root", root, "--keep-bundle", "--config", file].filter((arg) => command[0] === "apply" || arg !== "--keep-bundle"), QUIET);
        const record = fs.existsSync(`${root}/${STATE}/result.json`) ? fs.readFileSync(`${root}/${STATE}/result.json`, "utf8") : "";
        const label = `--config ${name}, ${command.join(" ")}: exit ${result.exitCode}`;
        expect(findLeak(`${String(result.stdout)}\n${stderrOf(result)}\n${record}`, fragments), label).toBeUndefined();
        expect(result.exitCode, `${label}\n${stderrOf(result)}`).not.toBe(0);
      }
    }
    expect(managedTree(root)).toEqual(installedBefore);
  });
});
