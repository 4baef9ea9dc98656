// apply, plan and rollback through the compiled binary, the way an operator runs them.

import { execSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { execa } from "execa";
import { describe, expect, test } from "vitest";
import { AGENT, runAgent } from "./helpers/agent-binary.ts";
import { makeHost, writeSampleBundle } from "./helpers/host.ts";
import { applyOnOverlay } from "./helpers/overlay-host.ts";
import { snapshotTree, tempDir } from "./helpers/tree.ts";
import { recorded } from "./helpers/canary.ts";

const isRoot = process.getuid?.() === 0;
if (!isRoot) console.log("cli-apply tests skipped: apply chowns files to other users and needs root");
const rootTest = isRoot ? test : test.skip;

// Without a journal socket the events go to stderr; these tests look at the summary only.
const QUIET = { env: { TYPHOON_AGENT_JOURNAL: "stderr" } };

describe("apply and plan", () => {
  // Not "no file, the defaults": the operator meant a configuration, and a worker nobody configured would be installed.
  for (const { form, plant, says } of [
    { form: "a dangling symlink", plant: (file: string) => fs.symlinkSync("/nowhere/agent.yaml", file), says: "/etc/typhoon/agent.yaml is a symbolic link to /nowhere/agent.yaml, which does not exist below" },
    { form: "not UTF-8", plant: (file: string) => fs.writeFileSync(file, Buffer.from("role: worker\n# caf\xe9\n", "latin1")), says: "/etc/typhoon/agent.yaml is not UTF-8 text" },
  ]) {
    rootTest(`agent.yaml ${form}: apply refuses it (exit 78) and installs nothing`, async () => {
      const root = makeHost();
      fs.mkdirSync(`${root}/etc/typhoon`, { recursive: true });
      plant(`${root}/etc/typhoon/agent.yaml`);
      const result = await runAgent(["apply", "--role", "worker", "--root", root, "--no-start"], QUIET);
      expect(result.exitCode, String(result.stderr)).toBe(78);
      expect(result.stderr).toContain(says);
      expect(fs.existsSync(`${root}/etc/systemd/system/kubelet.service`)).toBe(false);
    });
  }

  rootTest("result.json that cannot be written: the outcome stands, a warning names the path, the reason and a hint", async () => {
    const root = makeHost();
    expect((await runAgent(["apply", "--role", "worker", "--root", root, "--no-start"], QUIET)).exitCode).toBe(0);
    const resultFile = `${root}/var/lib/typhoon-agent/result.json`;
    fs.rmSync(resultFile);
    fs.mkdirSync(resultFile);
    const again = await runAgent(["apply", "--role", "worker", "--root", root, "--no-start"], QUIET);
    expect(again.exitCode, again.stderr as string).toBe(0);
    expect(again.stdout).toMatch(/^unchanged: /);
    expect(again.stderr).toContain("typhoon-agent: warning: result not written: cannot write /var/lib/typhoon-agent/result.json: EISDIR (is a directory)");
    expect(again.stderr).toMatch(/typhoon-agent: hint: .*move it away/);
    expect(fs.statSync(resultFile).isDirectory()).toBe(true);
    expect(fs.readdirSync(path.dirname(resultFile)).filter((name) => name.endsWith(".tmp"))).toEqual([]);
  });

  rootTest("plan prints a table and changes nothing; --json is one document", async () => {
    const root = makeHost();
    const bundle = `${root}/home/core/assets`;
    await writeSampleBundle(bundle);
    const before = snapshotTree(root);
    const plan = await runAgent(["plan", bundle, "--root", root]);
    expect(plan.exitCode, plan.stderr as string).toBe(0);
    const table = plan.stdout as string;
    expect(table.split("\n")[0]).toMatch(/^ACTION\s+PATH\s+OWNER\s+MODE\s+SIZE\s+NOTE$/);
    expect(table).toMatch(/create\s+\/etc\/kubernetes\/pki\/apiserver\.key\s+nobody:root\s+0400\s+1\.6 KB\s+secret/);
    expect(table).toMatch(/create\s+\/etc\/ssl\/etcd\/etcd\/server\.key\s+etcd:etcd\s+0400/);
    expect(table).toMatch(/^plan: \d+ create \(controller, podman, bundle sha256 [0-9a-f]{12}…\)/m);
    expect(table).not.toContain("BEGIN RSA PRIVATE KEY");
    const json = await runAgent(["plan", bundle, "--root", root, "--json"]);
    const report = JSON.parse(json.stdout as string) as { outcome: string; actions: Array<{ action: string; path: string }> };
    expect(report.outcome).toBe("planned");
    expect(report.actions.some((action) => action.path === "/etc/kubernetes/pki/ca.key" && action.action === "create")).toBe(true);
    expect(snapshotTree(root)).toEqual(before);
  });

  rootTest("apply installs, records the result, removes the bundle; a re-run is unchanged", async () => {
    const root = makeHost();
    const bundle = `${root}/home/core/assets`;
    await writeSampleBundle(bundle);
    const first = await runAgent(["apply", bundle, "--root", root, "--no-start"], QUIET);
    expect(first.exitCode, first.stderr as string).toBe(0);
    expect(first.stdout).toMatch(/^applied: \d+ create\b.* in [\d.]+ ms; backup \/var\/lib\/typhoon-agent\/backups\/\d{8}T\d{9}Z\.tar\n$/);
    expect(fs.existsSync(bundle)).toBe(false);
    const result = JSON.parse(fs.readFileSync(`${root}/var/lib/typhoon-agent/result.json`, "utf8")) as { outcome: string; exitCode: number; bundle: { sha256: string } };
    expect(result.outcome).toBe("applied");
    expect(result.bundle.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(fs.statSync(`${root}/var/lib/typhoon-agent/result.json`).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(`${root}/etc/systemd/system/kubelet.service`, "utf8")).toContain("ExecStart=");
    expect(fs.readFileSync(`${root}/etc/kubernetes/kubelet.yaml`, "utf8")).toContain("KubeletConfiguration");

    await writeSampleBundle(bundle);
    const again = await runAgent(["apply", bundle, "--root", root, "--no-start", "--keep-bundle", "--json"], QUIET);
    expect(again.exitCode).toBe(0);
    const report = JSON.parse(again.stdout as string) as { outcome: string; actions: Array<{ action: string }> };
    expect(report.outcome).toBe("unchanged");
    expect(new Set(report.actions.map((action) => action.action))).toEqual(new Set(["unchanged"]));
    expect(fs.existsSync(bundle)).toBe(true);
  });

  rootTest("apply does what plan said, path for path, from the agent's own state directory on", async () => {
    const root = makeHost();
    const bundle = `${root}/home/core/assets`;
    await writeSampleBundle(bundle);
    type Report = { actions: Array<{ action: string; path: string; owner?: string; mode?: string }> };
    const actions = (stdout: unknown): string[] => (JSON.parse(stdout as string) as Report).actions.map((a) => `${a.action} ${a.path} ${a.owner} ${a.mode}`);
    const plan = await runAgent(["plan", bundle, "--root", root, "--json"]);
    const apply = await runAgent(["apply", bundle, "--root", root, "--no-start", "--keep-bundle", "--json"], QUIET);
    expect(apply.exitCode, apply.stderr as string).toBe(0);
    expect(actions(plan.stdout)).toContain("create /var/lib/typhoon-agent root:root 0700");
    expect(actions(apply.stdout)).toEqual(actions(plan.stdout));
    const again = await runAgent(["plan", bundle, "--root", root, "--json"]);
    const rerun = await runAgent(["apply", bundle, "--root", root, "--no-start", "--keep-bundle", "--json"], QUIET);
    expect(actions(again.stdout)).toContain("unchanged /var/lib/typhoon-agent root:root 0700");
    expect(actions(rerun.stdout)).toEqual(actions(again.stdout));
  });

  rootTest("a worker needs no bundle and refuses one; a controller needs one", async () => {
    const root = makeHost({ osRelease: "flatcar" });
    const worker = await runAgent(["apply", "--role", "worker", "--root", root], QUIET);
    expect(worker.exitCode, worker.stderr as string).toBe(0);
    expect(fs.readFileSync(`${root}/etc/systemd/system/kubelet.service`, "utf8")).toContain("docker");
    expect(fs.existsSync(`${root}/etc/kubernetes/pki`)).toBe(false);
    await writeSampleBundle(`${root}/home/core/assets`);
    const refused = await runAgent(["apply", `${root}/home/core/assets`, "--role", "worker", "--root", root], QUIET);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain("a worker takes no bundle");
    const missing = await runAgent(["apply", "--root", root], QUIET);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toContain("needs the asset bundle");
  });

  rootTest("bad input exits with its own code and leaves no trace but the result file", async () => {
    const root = makeHost();
    const bundle = `${root}/home/core/assets`;
    fs.writeFileSync(bundle, "##### tls/k8s/ca.key\nkey\n##### /etc/passwd\nroot::0:0\n");
    const before = snapshotTree(path.join(root, "etc"));
    const bad = await runAgent(["apply", bundle, "--root", root], QUIET);
    expect(bad.exitCode).toBe(65);
    expect(bad.stderr).toContain("line 3: asset name \"/etc/passwd\" is absolute");
    expect(snapshotTree(path.join(root, "etc"))).toEqual(before);
    expect(fs.existsSync(bundle)).toBe(true);
    const result = JSON.parse(fs.readFileSync(`${root}/var/lib/typhoon-agent/result.json`, "utf8")) as { outcome: string; exitCode: number };
    expect(result).toMatchObject({ outcome: "failed", exitCode: 65 });
    const missing = await runAgent(["apply", `${root}/nope`, "--root", root], QUIET);
    expect(missing.exitCode).toBe(66);
  });

  rootTest("flag values are checked as they are parsed: exit 2 naming the flag, before anything runs", async () => {
    const root = makeHost();
    const bundle = `${root}/home/core/assets`;
    await writeSampleBundle(bundle);
    const before = snapshotTree(root);
    const refusals: Array<[string[], string]> = [
      [["apply", bundle, "--expect-sha256", "xyz"], '--expect-sha256 takes a SHA-256 digest of 64 hex digits (sha256sum prints it), not "xyz"'],
      [["apply", bundle, "--expect-sha256", "0".repeat(63)], "--expect-sha256 takes a SHA-256 digest"],
      [["apply", bundle, "--lock-wait", "soon"], '--lock-wait takes a number of seconds from 0 to 86400 (decimal digits, a fraction allowed), not "soon"\n'],
      [["apply", bundle, "--lock-wait", "-1"], '--lock-wait takes a number of seconds from 0 to 86400 (decimal digits, a fraction allowed), not "-1"'],
      [["plan", bundle, "--lock-wait", "1"], "unknown option --lock-wait"],
      [["rollback", "--lock-wait", "x"], "--lock-wait takes a number of seconds"],
      [["verify", "--warn-days", "1.5"], '--warn-days takes a number of days from 0 to 3650 (whole days in decimal digits), not "1.5"'],
    ];
    for (const [args, message] of refusals) {
      const result = await runAgent([...args, "--root", root], QUIET);
      expect({ args, exitCode: result.exitCode }).toEqual({ args, exitCode: 2 });
      expect(result.stderr).toContain(message);
    }
    expect(snapshotTree(root)).toEqual(before);
    // Digests are compared as sha256sum prints them, whatever the case given.
    const digest = createHash("sha256").update(fs.readFileSync(bundle)).digest("hex").toUpperCase();
    const applied = await runAgent(["apply", bundle, "--root", root, "--no-start", "--expect-sha256", digest], QUIET);
    expect(applied.exitCode, applied.stderr as string).toBe(0);
  });

  rootTest("an apply refused for its configuration is reported like any failed apply: journal, --json, result.json", async () => {
    const root = makeHost();
    const bundle = `${root}/home/core/assets`;
    await writeSampleBundle(bundle);
    fs.mkdirSync(`${root}/etc/typhoon`);
    fs.writeFileSync(`${root}/etc/typhoon/agent.yaml`, "k8s_dns_service_ip: 10.3.0.10\n");
    const refused = await runAgent(["apply", bundle, "--root", root, "--json"], QUIET);
    expect(refused.exitCode).toBe(78);
    expect(refused.stderr).toMatch(/^<3>typhoon-agent apply failed: k8s_dns_service_ip: .*renamed.* exit_code=78/m);
    const report = JSON.parse(refused.stdout as string) as { command: string; outcome: string; exitCode: number; error: string };
    expect(report).toMatchObject({ command: "apply", outcome: "failed", exitCode: 78 });
    expect(report.error).toContain("cluster_dns_service_ip");
    const result = JSON.parse(fs.readFileSync(`${root}/var/lib/typhoon-agent/result.json`, "utf8")) as unknown;
    expect(result).toMatchObject({ outcome: "failed", exitCode: 78 });
    expect(fs.existsSync(bundle)).toBe(true);
    expect(fs.existsSync(`${root}/etc/kubernetes`)).toBe(false);

    fs.rmSync(`${root}/etc/typhoon/agent.yaml`);
    const worker = await runAgent(["apply", bundle, "--root", root, "--role", "worker"], QUIET);
    expect(worker.exitCode).toBe(2);
    expect(worker.stderr).toMatch(/^<3>typhoon-agent apply failed: a worker takes no bundle/m);
    const plan = await runAgent(["plan", bundle, "--root", root, "--role", "worker", "--json"], QUIET);
    expect(plan.exitCode).toBe(2);
    expect(JSON.parse(plan.stdout as string)).toMatchObject({ command: "plan", outcome: "failed", exitCode: 2 });
    expect(plan.stderr).not.toContain("<3>");
  });

  rootTest("an apply killed in its commit: plan warns, the next apply completes it first and says so", async () => {
    const root = makeHost();
    const bundle = `${root}/home/core/assets`;
    await writeSampleBundle(bundle);
    expect((await runAgent(["apply", bundle, "--root", root, "--no-start"], QUIET)).exitCode).toBe(0);
    await writeSampleBundle(bundle, { freshPki: true });
    // Renames: the backup, the record twice (prepare, commit), then the files; die at the third file.
    const renames = "rename,renameat,renameat2";
    const killed = recorded("apply killed in its commit", await execa("strace", ["-f", "-qq", "-o", "/dev/null", "-e", `trace=${renames}`, "-e", `inject=${renames}:signal=KILL:when=6`, AGENT, "apply", bundle, "--root", root, "--no-start", "--keep-bundle"], { reject: false, env: QUIET.env }));
    expect(killed.signal ?? killed.exitCode).not.toBe(0);
    expect(fs.existsSync(`${root}/var/lib/typhoon-agent/state.json`)).toBe(true);

    const plan = await runAgent(["plan", bundle, "--root", root], QUIET);
    expect(plan.exitCode).toBe(0);
    expect(plan.stderr).toMatch(/warning: an interrupted transaction \(\d{8}T\d{9}Z\) will be completed first by the next apply/);
    const apply = await runAgent(["apply", bundle, "--root", root, "--no-start", "--keep-bundle", "--json"], QUIET);
    expect(apply.exitCode, apply.stderr as string).toBe(0);
    expect(apply.stderr).toMatch(/^<5>typhoon-agent found transaction \d{8}T\d{9}Z interrupted and completed it action=completed$/m);
    const report = JSON.parse(apply.stdout as string) as { outcome: string; recovered: { outcome: string }; actions: Array<{ action: string }> };
    expect(report.recovered.outcome).toBe("completed");
    // Rolled forward by the recovery itself: the apply that follows it finds nothing left to change.
    expect({ outcome: report.outcome, actions: new Set(report.actions.map((action) => action.action)) }).toEqual({ outcome: "unchanged", actions: new Set(["unchanged"]) });
    expect(fs.existsSync(`${root}/var/lib/typhoon-agent/state.json`)).toBe(false);
    const again = await runAgent(["plan", bundle, "--root", root, "--json"], QUIET);
    expect(new Set((JSON.parse(again.stdout as string) as { actions: Array<{ action: string }> }).actions.map((a) => a.action))).toEqual(new Set(["unchanged"]));
  });

  rootTest("an apply killed in its prepare: the next apply rolls it back first, its backup and temp files gone, then applies", async () => {
    const root = makeHost();
    const bundle = `${root}/home/core/assets`;
    await writeSampleBundle(bundle);
    expect((await runAgent(["apply", bundle, "--root", root, "--no-start", "--keep-bundle"], QUIET)).exitCode).toBe(0);
    await writeSampleBundle(bundle, { freshPki: true });
    // Links are made in prepare only (each replaced file kept under its undo name): die at the third.
    const killed = await execa("strace", ["-f", "-qq", "-o", "/dev/null", "-e", "trace=link,linkat", "-e", "inject=link,linkat:signal=KILL:when=3", AGENT, "apply", bundle, "--root", root, "--no-start", "--keep-bundle"], { reject: false, env: QUIET.env });
    expect(killed.signal ?? killed.exitCode).not.toBe(0);
    const record = JSON.parse(fs.readFileSync(`${root}/var/lib/typhoon-agent/state.json`, "utf8")) as { id: string; phase: string; backup: string };
    expect(record.phase).toBe("prepare");
    expect(fs.existsSync(`${root}${record.backup}`), "the dead run's backup, before recovery").toBe(true);
    const leftovers = () => [...snapshotTree(root).keys()].filter((name) => /\.typhoon-agent\.[^/]+\.(tmp|orig)$/.test(name));
    expect(leftovers().length).toBeGreaterThan(0);

    const apply = await runAgent(["apply", bundle, "--root", root, "--no-start", "--keep-bundle", "--json"], QUIET);
    expect(apply.exitCode, apply.stderr as string).toBe(0);
    const report = JSON.parse(apply.stdout as string) as { outcome: string; recovered: { id: string; outcome: string; backup?: string } };
    expect(report.recovered).toEqual({ id: record.id, outcome: "rolled back", backup: record.backup });
    expect(report.outcome).toBe("applied");
    expect(fs.existsSync(`${root}${record.backup}`), "a rolled-back transaction's backup undoes nothing: it goes").toBe(false);
    expect(leftovers()).toEqual([]);
  });

  rootTest("a bundle read from a pipe is installed, and the pipe is not removed", async () => {
    const root = makeHost();
    const bundle = `${root}/home/core/assets`;
    await writeSampleBundle(bundle);
    const fifo = path.join(tempDir(), "assets.fifo");
    execSync(`mkfifo ${fifo}`);
    const writer = execa("sh", ["-c", `cat ${bundle} > ${fifo}`]);
    const apply = await runAgent(["apply", fifo, "--root", root, "--no-start"], QUIET);
    await writer;
    expect(apply.exitCode, apply.stderr as string).toBe(0);
    expect(fs.lstatSync(fifo).isFIFO()).toBe(true);
    expect(fs.existsSync(`${root}/etc/kubernetes/pki/ca.key`)).toBe(true);
  });

  rootTest("rollback undoes the last apply", async () => {
    const root = makeHost();
    const bundle = `${root}/home/core/assets`;
    await writeSampleBundle(bundle);
    const before = snapshotTree(path.join(root, "etc"));
    expect((await runAgent(["apply", bundle, "--root", root, "--no-start"], QUIET)).exitCode).toBe(0);
    const undo = await runAgent(["rollback", "--root", root], QUIET);
    expect(undo.exitCode, undo.stderr as string).toBe(0);
    expect(undo.stdout).toMatch(/^rolled back \/var\/lib\/typhoon-agent\/backups\/\S+\.tar: 0 restored, \d+ removed in [\d.]+ ms\n$/);
    const after = snapshotTree(path.join(root, "etc"));
    expect([...after.keys()].filter((name) => !before.has(name))).toEqual([]);
    const again = await runAgent(["rollback", "--root", root], QUIET);
    expect(again.exitCode).toBe(66);
  });
});

describe("starting the kubelet", () => {
  rootTest("without --root, systemctl daemon-reload and enable --now run (stub systemctl)", async () => {
    const run = await applyOnOverlay(`echo "$*" >> $LOG`);
    if (run === undefined) return;
    expect(run.exitCode, run.stderr).toBe(0);
    expect(fs.readFileSync(path.join(run.work, "systemctl.log"), "utf8")).toBe("daemon-reload\nenable --now kubelet.service\n");
    expect(fs.existsSync(path.join(run.work, "upper/etc/kubernetes/pki/ca.key"))).toBe(true);
    expect(fs.existsSync("/etc/kubernetes/pki/ca.key")).toBe(false);
    expect(run.stderr).toMatch(/kubelet.service: enabled and started/);
  });

  rootTest("a changed kubelet.yaml restarts the running kubelet; a rollback restores it and restarts it again", async () => {
    const run = await applyOnOverlay(`echo "$*" >> $LOG`, [
      "apply ASSETS --keep-bundle",
      "apply ASSETS --keep-bundle --cluster-dns-service-ip 10.3.0.53",
      "apply ASSETS --keep-bundle --cluster-dns-service-ip 10.3.0.53",
      "rollback",
    ]);
    if (run === undefined) return;
    expect(run.exitCodes, run.stderr).toEqual([0, 0, 0, 0]);
    expect(fs.readFileSync(path.join(run.work, "systemctl.log"), "utf8").trimEnd().split("\n")).toEqual([
      "daemon-reload", "enable --now kubelet.service", // first install: start
      "daemon-reload", "enable kubelet.service", "restart kubelet.service", // kubelet.yaml replaced
      "daemon-reload", "enable --now kubelet.service", // nothing changed: only make sure it runs
      "daemon-reload", "try-restart kubelet.service", // rollback restored the first kubelet.yaml
    ]);
    expect(run.stderr).toMatch(/kubelet.service: enabled and restarted/);
    expect(run.stdout).toMatch(/rolled back .*; kubelet.service: restarted if it was running/);
    expect(fs.readFileSync(path.join(run.work, "upper/etc/kubernetes/kubelet.yaml"), "utf8")).toContain("10.3.0.10");
  });

  rootTest("rolling back the first install stops and disables the kubelet", async () => {
    const run = await applyOnOverlay(`echo "$*" >> $LOG`, ["apply ASSETS", "rollback"]);
    if (run === undefined) return;
    expect(run.exitCodes, run.stderr).toEqual([0, 0]);
    expect(fs.readFileSync(path.join(run.work, "systemctl.log"), "utf8").trimEnd().split("\n").slice(2)).toEqual(["daemon-reload", "disable --now kubelet.service"]);
  });

  // "/" spelled otherwise is neither the live root (it would start the kubelet behind a
  // spelling the README does not promise) nor a scratch root (it writes onto the real /).
  rootTest("a --root that resolves to / but is not spelled / is a usage error for every command, before anything is read or written", async () => {
    const link = path.join(tempDir(), "slash");
    fs.symlinkSync("/", link);
    const spellings = ["/.", "//", "///", "/./", "/tmp/..", "/etc/../", link];
    const commands = ["apply ASSETS --keep-bundle", "plan ASSETS", "rollback", "verify", "render kubelet"];
    const runs = commands.flatMap((command) => spellings.map((root) => `${command} --root ${root}`));
    const run = await applyOnOverlay(`echo "$*" >> $LOG`, runs);
    if (run === undefined) return;
    expect(run.exitCodes, run.stderr).toEqual(runs.map(() => 2));
    for (const root of spellings) expect(run.stderr).toContain(`--root ${root}: that is / spelled otherwise; spell it --root / (or leave --root out) for the live root`);
    expect(fs.existsSync(path.join(run.work, "systemctl.log"))).toBe(false);
    expect(fs.readdirSync(path.join(run.work, "upper/etc")).sort()).toEqual(["group", "os-release", "passwd"]); // the namespace's own copies
    expect(fs.readdirSync(path.join(run.work, "upper/var"))).toEqual([]);
  });

  rootTest("a failing systemctl fails the apply with its words, exit 69: installed, the kubelet not started", async () => {
    const run = await applyOnOverlay(`[ "$1" = enable ] && { echo "Failed to enable unit: Unit file kubelet.service is masked." >&2; exit 1; }\nexit 0`);
    if (run === undefined) return;
    expect(run.exitCode).toBe(69);
    expect(run.stderr).toContain("Unit file kubelet.service is masked");
    expect(run.stderr).toContain("the files are installed");
    expect(run.stderr).toContain("hint: systemctl status kubelet.service and journalctl -u kubelet.service tell why; once that is fixed, run systemctl enable --now kubelet.service");
  });
});
