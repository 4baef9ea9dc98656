// apply as a transaction on scratch host trees (--root): placement, least privilege,
// idempotence, drift repair, legacy migration, stale removal, refusals, rollback.

import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { execa } from "execa";
import { beforeAll, describe, expect, test } from "vitest";
import { runApply } from "../agent/apply/apply.ts";
import { runRollback } from "../agent/apply/rollback.ts";
import { HostRoot } from "../agent/hostfs/host-root.ts";
import { terraformBundle } from "../scripts/make-bundle.ts";
import { AGENT } from "./helpers/agent-binary.ts";
import { applyIn, applyRequest, EventRecorder } from "./helpers/apply.ts";
import { ETCD_UID, NOBODY_UID, makeHost, sampleAssets, writeSampleBundle } from "./helpers/host.ts";
import { snapshotIgnoringRunRecord, snapshotTree } from "./helpers/tree.ts";

const isRoot = process.getuid?.() === 0;
if (!isRoot) console.log("apply tests skipped: they chown files to other users and need root");
const rootTest = isRoot ? test : test.skip;

/** inode and mtime of every entry: an apply that writes nothing leaves them all alone. */
function inodes(root: string): Map<string, string> {
  const seen = new Map<string, string>();
  for (const name of snapshotTree(root).keys()) {
    const stat = fs.lstatSync(path.join(root, name));
    seen.set(name, `${stat.ino}:${stat.mtimeMs}`);
  }
  return seen;
}

function statOf(root: string, hostPath: string): { uid: number; gid: number; mode: number } {
  const stat = fs.lstatSync(path.join(root, hostPath));
  return { uid: stat.uid, gid: stat.gid, mode: stat.mode & 0o7777 };
}

function writeInstallRecord(root: string, text: string): void {
  fs.mkdirSync(`${root}/var/lib/typhoon-agent`, { recursive: true, mode: 0o700 });
  fs.writeFileSync(`${root}/var/lib/typhoon-agent/installed.json`, text, { mode: 0o600 });
}

const backups = (root: string): string[] => fs.readdirSync(path.join(root, "var/lib/typhoon-agent/backups")).sort();

let assets: Map<string, string>;
beforeAll(async () => {
  assets = await sampleAssets();
});

describe("a fresh controller", () => {
  rootTest("every asset is installed where the placement table puts it, byte for byte", async () => {
    const root = makeHost();
    await writeSampleBundle(`${root}/home/core/assets`);
    const { report } = await applyIn(root);
    expect(report.exitCode, report.error).toBe(0);
    expect(report.outcome).toBe("applied");
    const where = (asset: string): string => {
      const name = asset.slice(asset.lastIndexOf("/") + 1);
      if (/^tls\/etcd\/(server|peer)/.test(asset)) return `etc/ssl/etcd/etcd/${name}`;
      if (asset.startsWith("tls/") || asset.startsWith("auth/")) return `etc/kubernetes/pki/${name}`;
      if (asset.startsWith("static-manifests/")) return `etc/kubernetes/manifests/${name}`;
      return `opt/bootstrap/assets/${asset}`;
    };
    expect(assets.size).toBe(44);
    for (const [asset, content] of assets) {
      expect(fs.readFileSync(path.join(root, where(asset)), "utf8"), asset).toBe(content);
    }
    expect(fs.readFileSync(path.join(root, "etc/systemd/system/kubelet.service"), "utf8")).toContain("test kubelet");
  });

  rootTest("owners and modes follow the least-privilege rule, derived from the static pods", async () => {
    const root = makeHost();
    await writeSampleBundle(`${root}/home/core/assets`);
    expect((await applyIn(root)).report.exitCode).toBe(0);
    const expectations: Array<[string, number, number, number]> = [
      ["etc/ssl/etcd", ETCD_UID, ETCD_UID, 0o700],
      ["etc/ssl/etcd/etcd", ETCD_UID, ETCD_UID, 0o700],
      ["etc/ssl/etcd/etcd/server.key", ETCD_UID, ETCD_UID, 0o400],
      ["etc/ssl/etcd/etcd/peer.key", ETCD_UID, ETCD_UID, 0o400],
      ["etc/ssl/etcd/etcd/server.crt", ETCD_UID, ETCD_UID, 0o444],
      ["etc/ssl/etcd/etcd/peer-ca.crt", ETCD_UID, ETCD_UID, 0o444],
      ["etc/kubernetes/pki", 0, 0, 0o755],
      // referenced by the static pods, which run as 65534
      ["etc/kubernetes/pki/apiserver.key", NOBODY_UID, 0, 0o400],
      ["etc/kubernetes/pki/etcd-client.key", NOBODY_UID, 0, 0o400],
      ["etc/kubernetes/pki/service-account.key", NOBODY_UID, 0, 0o400],
      ["etc/kubernetes/pki/ca.key", NOBODY_UID, 0, 0o400],
      ["etc/kubernetes/pki/aggregation-client.key", NOBODY_UID, 0, 0o400],
      ["etc/kubernetes/pki/controller-manager.conf", NOBODY_UID, 0, 0o400],
      ["etc/kubernetes/pki/scheduler.conf", NOBODY_UID, 0, 0o400],
      // referenced by nobody: root only
      ["etc/kubernetes/pki/admin.conf", 0, 0, 0o600],
      // public material
      ["etc/kubernetes/pki/ca.crt", 0, 0, 0o644],
      ["etc/kubernetes/pki/service-account.pub", 0, 0, 0o644],
      ["etc/kubernetes/pki/etcd-client-ca.crt", 0, 0, 0o644],
      ["etc/kubernetes/manifests", 0, 0, 0o700],
      ["etc/kubernetes/manifests/kube-apiserver.yaml", 0, 0, 0o600],
      ["opt/bootstrap/assets", 0, 0, 0o700],
      ["opt/bootstrap/assets/manifests/coredns", 0, 0, 0o700],
      ["opt/bootstrap/assets/manifests/bootstrap-token.yaml", 0, 0, 0o600],
      ["etc/systemd/system/kubelet.service", 0, 0, 0o644],
      ["var/lib/typhoon-agent", 0, 0, 0o700],
    ];
    for (const [file, uid, gid, mode] of expectations) {
      expect({ file, ...statOf(root, file) }).toEqual({ file, uid, gid, mode });
    }
    // No secret anywhere is readable by group or others.
    for (const [name, entry] of snapshotTree(root)) {
      if (entry.type === "file" && /\.(key|conf)$|token|backups\//.test(name)) expect(entry.mode & 0o077, name).toBe(0);
    }
  });

  rootTest("pods running as different users may share a certificate, not a secret", async () => {
    const root = makeHost();
    // the scheduler mounts the whole pki directory here (upstream mounts only scheduler.conf),
    // so the files it names are host files it reads
    const scheduler = assets
      .get("static-manifests/kube-scheduler.yaml")!
      .replace(/(mountPath|path): \/etc\/kubernetes\/pki\/scheduler.conf/g, "$1: /etc/kubernetes/pki")
      .replace("runAsUser: 65534", "runAsUser: 1234")
      .replace("    - --leader-elect=true\n", "    - --leader-elect=true\n    - --client-ca-file=/etc/kubernetes/pki/ca.crt\n");
    const sharing = new Map(assets).set("static-manifests/kube-scheduler.yaml", scheduler);
    fs.writeFileSync(`${root}/home/core/assets`, terraformBundle(sharing));
    const { report } = await applyIn(root);
    expect(report.exitCode, report.error).toBe(0);
    expect(statOf(root, "etc/kubernetes/pki/ca.crt")).toEqual({ uid: 0, gid: 0, mode: 0o644 });
    expect(statOf(root, "etc/kubernetes/pki/scheduler.conf")).toEqual({ uid: 1234, gid: 0, mode: 0o400 });

    const secretShared = new Map(sharing).set("static-manifests/kube-scheduler.yaml", scheduler.replace("pki/ca.crt", "pki/apiserver.key"));
    fs.writeFileSync(`${root}/home/core/assets`, terraformBundle(secretShared));
    const refused = await applyIn(root);
    expect(refused.report.exitCode).toBe(65);
    expect(refused.report.error).toContain("/etc/kubernetes/pki/apiserver.key is read by static-manifests/kube-apiserver.yaml as uid 65534");
    expect(refused.report.error).toContain("static-manifests/kube-scheduler.yaml as uid 1234");
  });

  rootTest("the etcd user may live in /usr/lib/passwd (Fedora CoreOS)", async () => {
    const root = makeHost({ etcdUser: "usr-lib" });
    await writeSampleBundle(`${root}/home/core/assets`);
    expect((await applyIn(root)).report.exitCode).toBe(0);
    expect(statOf(root, "etc/ssl/etcd/etcd/server.key").uid).toBe(ETCD_UID);
  });

  rootTest("a missing etcd user is exit 67 naming it, and nothing is written", async () => {
    const root = makeHost({ etcdUser: "missing" });
    await writeSampleBundle(`${root}/home/core/assets`);
    const before = snapshotTree(root);
    const { report } = await applyIn(root);
    expect(report.exitCode).toBe(67);
    expect(report.error).toContain("no such user: etcd");
    expect(snapshotIgnoringRunRecord(root, before)).toEqual(before);
  });

  rootTest("the legacy names auth/kubeconfig and manifests-networking/ install too", async () => {
    const root = makeHost();
    const legacy = new Map([...assets].map(([name, content]): [string, string] => [name.replace(/^manifests\/network\//, "manifests-networking/"), content]));
    legacy.set("auth/kubeconfig", assets.get("auth/admin.conf")!);
    fs.writeFileSync(`${root}/home/core/assets`, terraformBundle(legacy));
    const { report } = await applyIn(root);
    expect(report.exitCode, report.error).toBe(0);
    expect(statOf(root, "etc/kubernetes/pki/kubeconfig")).toEqual({ uid: 0, gid: 0, mode: 0o600 });
    expect(fs.existsSync(path.join(root, "opt/bootstrap/assets/manifests-networking/daemonset.yaml"))).toBe(true);
  });
});

describe("a bundle cut short still parses, and is refused", () => {
  // Terraform sorts the keys, so a transfer cut on a line boundary loses tls/ first.
  const cuts: Array<[string, (bundle: string) => string, RegExp]> = [
    ["inside the last key", (bundle) => bundle.slice(0, bundle.lastIndexOf("-----END")), /line \d+: asset tls\/k8s\/service-account.pub is not complete PEM/],
    ["before tls/k8s/", (bundle) => bundle.slice(0, bundle.indexOf("\n##### tls/k8s/") + 1), /\/etc\/kubernetes\/pki\/\S+ is read by static-manifests\/kube-\S+.yaml.*, but the bundle lacks it/],
    ["before static-manifests/", (bundle) => bundle.slice(0, bundle.indexOf("\n##### static-manifests/") + 1), /no static-manifests/],
  ];
  for (const [title, cut, message] of cuts) {
    rootTest(title, async () => {
      const root = makeHost();
      fs.writeFileSync(`${root}/home/core/assets`, cut(terraformBundle(assets).toString("utf8")));
      const before = snapshotTree(root);
      const { report } = await applyIn(root);
      expect(report.exitCode).toBe(65);
      expect(report.error).toMatch(message);
      expect(report.hint).toContain("cut short in transfer");
      expect(snapshotIgnoringRunRecord(root, before)).toEqual(before);
    });
  }

  // Through the binary, over an installed controller: etcd (a host service, not a static pod)
  // needs every file of its TLS set, and installing without one would remove it.
  rootTest("a controller bundle lacking any one etcd TLS file is refused (65), naming it, nothing touched", async () => {
    const root = makeHost();
    const bundle = `${root}/home/core/assets`;
    await writeSampleBundle(bundle);
    const env = { TYPHOON_AGENT_JOURNAL: "stderr" };
    const installed = await execa(AGENT, ["apply", bundle, "--root", root, "--keep-bundle", "--etcd-user", "root"], { reject: false, env });
    expect(installed.exitCode, installed.stderr).toBe(0);
    const etcdFiles = [...assets.keys()].filter((name) => name.startsWith("tls/etcd/"));
    expect(etcdFiles).toHaveLength(9);
    for (const missing of etcdFiles) {
      fs.writeFileSync(bundle, terraformBundle(new Map([...assets].filter(([name]) => name !== missing))));
      const before = snapshotTree(root);
      const run = await execa(AGENT, ["apply", bundle, "--root", root, "--keep-bundle", "--etcd-user", "root"], { reject: false, env });
      expect(run.exitCode, `${missing}: ${run.stderr}`).toBe(65);
      // The client files are named as the pods read them (/etc/kubernetes/pki/...), the rest as assets.
      expect(run.stderr, missing).toMatch(new RegExp(`typhoon-agent: \\S*${path.basename(missing).replace(".", "\\.")}\\b.*the bundle lacks|the bundle lacks ${missing.replace(".", "\\.")}`));
      expect(run.stderr, missing).toContain("cut short in transfer");
      expect(snapshotIgnoringRunRecord(root, before), missing).toEqual(before);
    }
  });

  rootTest("the 2019 key names with today's static pods: the kubeconfigs they read are missing", async () => {
    const root = makeHost();
    await writeSampleBundle(`${root}/home/core/assets`, { layout: "2019" });
    const { report } = await applyIn(root);
    expect(report.exitCode).toBe(65);
    expect(report.error).toMatch(/\/etc\/kubernetes\/pki\/controller-manager.conf is read by static-manifests\/kube-controller-manager.yaml, but the bundle lacks it/);
  });
});

describe("idempotence and drift", () => {
  rootTest("a second apply writes nothing and reports every path unchanged", async () => {
    const root = makeHost();
    await writeSampleBundle(`${root}/home/core/assets`);
    expect((await applyIn(root)).report.exitCode).toBe(0);
    const before = inodes(path.join(root, "etc"));
    const beforeAssets = inodes(path.join(root, "opt"));
    const backupsBefore = backups(root);
    const { report, recorder } = await applyIn(root);
    expect(report.outcome).toBe("unchanged");
    expect(report.actions.every((action) => action.action === "unchanged")).toBe(true);
    expect(recorder.named("assetUnchanged").length).toBe(report.actions.length);
    expect(inodes(path.join(root, "etc"))).toEqual(before);
    expect(inodes(path.join(root, "opt"))).toEqual(beforeAssets);
    expect(backups(root)).toEqual(backupsBefore);
  });

  rootTest("mode and owner drift on unchanged content is repaired and reported", async () => {
    const root = makeHost();
    await writeSampleBundle(`${root}/home/core/assets`);
    await applyIn(root);
    fs.chmodSync(path.join(root, "etc/kubernetes/pki/admin.conf"), 0o644);
    fs.chownSync(path.join(root, "etc/kubernetes/pki/apiserver.key"), 0, 0);
    fs.chmodSync(path.join(root, "etc/ssl/etcd/etcd"), 0o755);
    const { report, recorder } = await applyIn(root);
    expect(report.exitCode, report.error).toBe(0);
    const repaired = report.actions.filter((action) => action.action === "repair").map((action) => action.path).sort();
    expect(repaired).toEqual(["/etc/kubernetes/pki/admin.conf", "/etc/kubernetes/pki/apiserver.key", "/etc/ssl/etcd/etcd"]);
    expect(recorder.named("permissionRepaired").map((entry) => entry.fields.TYPHOON_PATH).sort()).toEqual(repaired);
    expect(statOf(root, "etc/kubernetes/pki/admin.conf").mode).toBe(0o600);
    expect(statOf(root, "etc/kubernetes/pki/apiserver.key").uid).toBe(NOBODY_UID);
    expect(statOf(root, "etc/ssl/etcd/etcd").mode).toBe(0o700);
  });

  rootTest("a new PKI replaces the old files; the old ones are in the backup", async () => {
    const root = makeHost();
    await writeSampleBundle(`${root}/home/core/assets`);
    await applyIn(root);
    const oldKey = fs.readFileSync(path.join(root, "etc/kubernetes/pki/ca.key"), "utf8");
    await writeSampleBundle(`${root}/home/core/assets`, { freshPki: true });
    const { report } = await applyIn(root);
    expect(report.exitCode, report.error).toBe(0);
    expect(report.actions.filter((action) => action.action === "replace").length).toBeGreaterThan(20);
    expect(fs.readFileSync(path.join(root, "etc/kubernetes/pki/ca.key"), "utf8")).not.toBe(oldKey);
    const tar = await execa("tar", ["-tvf", path.join(root, report.backup!)]);
    expect(tar.stdout).toContain("etc/kubernetes/pki/ca.key");
    expect(statOf(root, report.backup!).mode).toBe(0o600);
  });
});

describe("refusals leave the host exactly as it was", () => {
  const refusals: Array<[string, (root: string) => void | Promise<void>, number, RegExp]> = [
    ["a traversal in the bundle", (root) => fs.writeFileSync(`${root}/home/core/assets`, "##### ../../etc/passwd\nroot::0:0::/:/bin/sh\n"), 65, /"\.\." segment/],
    ["an asset outside the placement table", (root) => fs.writeFileSync(`${root}/home/core/assets`, terraformBundle(new Map([...assets, ["tls/k8s/extra/x.key", "k"]]))), 65, /no place in the placement table/],
    ["content before the first header", (root) => fs.writeFileSync(`${root}/home/core/assets`, `oops\n${terraformBundle(assets).toString()}`), 65, /before the first header/],
    [
      "a static manifest that is not a Pod",
      (root) => fs.writeFileSync(`${root}/home/core/assets`, terraformBundle(new Map([...assets, ["static-manifests/kube-apiserver.yaml", "apiVersion: apps/v1\nkind: Deployment\n"]]))),
      65,
      /static-manifests\/kube-apiserver.yaml is not a valid v1 Pod/,
    ],
    ["a symlinked managed directory", (root) => {
      fs.mkdirSync(`${root}/etc/kubernetes`, { recursive: true });
      fs.mkdirSync(`${root}/elsewhere`);
      fs.symlinkSync(`${root}/elsewhere`, `${root}/etc/kubernetes/pki`);
    }, 73, /symlink/],
    ["a symlink where a key goes", (root) => {
      fs.mkdirSync(`${root}/etc/kubernetes/pki`, { recursive: true });
      fs.symlinkSync("/etc/shadow", `${root}/etc/kubernetes/pki/ca.key`);
    }, 73, /symlink/],
  ];
  for (const [title, arrange, exitCode, message] of refusals) {
    rootTest(title, async () => {
      const root = makeHost();
      await writeSampleBundle(`${root}/home/core/assets`);
      await arrange(root);
      const before = snapshotTree(root);
      const { report, recorder } = await applyIn(root);
      expect(report.exitCode).toBe(exitCode);
      expect(report.error).toMatch(message);
      const failed = recorder.named("applyFailed");
      expect(failed.length).toBe(1);
      // Once the bundle was read, the failure names it; a bundle refused while reading has no hash.
      expect(failed[0]!.fields.TYPHOON_BUNDLE_SHA256).toBe(report.bundle?.sha256);
      expect(snapshotIgnoringRunRecord(root, before)).toEqual(before);
    });
  }

  // Taken for empty in silence, a broken install record would leave every stale file of the last bundle behind.
  const brokenRecords: Array<[string, string, string]> = [
    ["not JSON", '{"files": ["/etc/kubernetes/pki/old.key"', "installed.json is not valid JSON"],
    ["without its list of files", '{"installed": []}\n', 'installed.json has no list of absolute paths under "files"'],
  ];
  for (const [title, text, problem] of brokenRecords) {
    rootTest(`a broken install record (${title}): the apply warns that stale files stay, and how to have them removed`, async () => {
      const root = makeHost();
      await writeSampleBundle(`${root}/home/core/assets`);
      writeInstallRecord(root, text);
      const { report } = await applyIn(root);
      expect(report.exitCode, report.error).toBe(0);
      expect(report.warnings).toContainEqual(expect.stringContaining(problem));
      expect(report.warnings).toContainEqual(expect.stringContaining("are left in place; this apply writes a new record (to have them removed, put back an intact record from an earlier backup in /var/lib/typhoon-agent/backups and apply again)"));
      expect(JSON.parse(fs.readFileSync(`${root}/var/lib/typhoon-agent/installed.json`, "utf8")).files.length, "a new record").toBeGreaterThan(0);
    });
  }

  rootTest("each refusal names the phase it happened in, in the result and the journal", async () => {
    const cases: Array<[string, (root: string) => void, string]> = [
      ["a bad bundle", (root) => fs.writeFileSync(`${root}/home/core/assets`, "##### /etc/passwd\nx\n"), "inputs"],
      ["a symlinked managed directory", (root) => {
        fs.mkdirSync(`${root}/etc/kubernetes`, { recursive: true });
        fs.symlinkSync("/tmp", `${root}/etc/kubernetes/pki`);
      }, "plan"],
    ];
    for (const [title, arrange, phase] of cases) {
      const root = makeHost();
      await writeSampleBundle(`${root}/home/core/assets`);
      arrange(root);
      const { report, recorder } = await applyIn(root);
      expect({ title, phase: report.phase as string | undefined }).toEqual({ title, phase });
      expect({ title, phase: recorder.named("applyFailed")[0]?.fields.TYPHOON_PHASE }).toEqual({ title, phase });
      expect(JSON.parse(fs.readFileSync(`${root}/var/lib/typhoon-agent/result.json`, "utf8")).phase).toBe(phase);
    }
  });

  rootTest("a bug is an internal error (exit 70) that keeps its cause, not an I/O error, and nothing is touched", async () => {
    const root = makeHost();
    await writeSampleBundle(`${root}/home/core/assets`);
    const before = snapshotTree(root);
    const recorder = new EventRecorder();
    // Content that is neither a string nor a Buffer: a programming error, as a TypeError.
    const rendered = [{ path: "/etc/systemd/system/kubelet.service", content: undefined as unknown as string, mode: 0o644, source: "kubelet.service" }];
    const { result, failure } = await runApply({ ...applyRequest(root), rendered }, recorder);
    expect(result.exitCode).toBe(70);
    expect(result.error).toMatch(/^internal error: /);
    expect(result.hint).toMatch(/bug in typhoon-agent/);
    expect(result.phase).toBe("inputs");
    expect(failure?.cause).toBeInstanceOf(TypeError);
    expect(recorder.named("applyFailed")[0]?.fields).toMatchObject({ TYPHOON_EXIT_CODE: 70, TYPHOON_PHASE: "inputs" });
    expect(snapshotIgnoringRunRecord(root, before)).toEqual(before);
  });

  rootTest("--allow-unknown skips what it cannot place, and says so", async () => {
    const root = makeHost();
    fs.writeFileSync(`${root}/home/core/assets`, terraformBundle(new Map([...assets, ["extras/readme.txt", "hi\n"]])));
    const { report } = await applyIn(root, { allowUnknown: true });
    expect(report.exitCode, report.error).toBe(0);
    expect(report.skippedAssets).toEqual(["extras/readme.txt"]);
    expect(report.warnings.join("\n")).toContain("extras/readme.txt");
  });

  rootTest("--expect-sha256 catches a corrupted transfer before anything is touched", async () => {
    const root = makeHost();
    await writeSampleBundle(`${root}/home/core/assets`);
    const before = snapshotTree(path.join(root, "etc"));
    const { report } = await applyIn(root, { expectSha256: "0".repeat(64) });
    expect(report.exitCode).toBe(65);
    expect(report.error).toMatch(/sha256 is [0-9a-f]{64}, expected 0{64}/);
    expect(snapshotTree(path.join(root, "etc"))).toEqual(before);
    const actual = createHash("sha256").update(fs.readFileSync(`${root}/home/core/assets`)).digest("hex");
    const good = await applyIn(root, { expectSha256: actual });
    expect(good.report.exitCode).toBe(0);
  });
});

describe("symlinked system directories stay inside the root", () => {
  rootTest("/opt -> var/opt (Fedora CoreOS) is followed inside the root", async () => {
    const root = makeHost();
    fs.mkdirSync(`${root}/var/opt`, { recursive: true });
    fs.symlinkSync("var/opt", `${root}/opt`);
    await writeSampleBundle(`${root}/home/core/assets`);
    const { report } = await applyIn(root);
    expect(report.exitCode, report.error).toBe(0);
    expect(fs.existsSync(`${root}/var/opt/bootstrap/assets/manifests/bootstrap-token.yaml`)).toBe(true);
    expect(fs.lstatSync(`${root}/opt`).isSymbolicLink()).toBe(true);
  });

  rootTest("an absolute or climbing system link is resolved inside the root, never outside", async () => {
    const root = makeHost();
    fs.mkdirSync(`${root}/var/opt`, { recursive: true });
    fs.symlinkSync("/../../../../var/opt", `${root}/opt`);
    await writeSampleBundle(`${root}/home/core/assets`);
    const { report } = await applyIn(root);
    expect(report.exitCode, report.error).toBe(0);
    expect(fs.existsSync(`${root}/var/opt/bootstrap/assets`)).toBe(true);
    expect(fs.existsSync("/var/opt/bootstrap/assets/manifests/bootstrap-token.yaml") && !fs.existsSync(`${root}/var/opt`)).toBe(false);
  });
});

describe("host paths as the operator knows them, whatever the links", () => {
  rootTest("with /opt -> var/opt, plan, apply, the backup and rollback all say /opt/...", async () => {
    const root = makeHost();
    fs.mkdirSync(`${root}/var/opt`, { recursive: true });
    fs.symlinkSync("var/opt", `${root}/opt`);
    await writeSampleBundle(`${root}/home/core/assets`, { networking: "cilium" });
    expect((await applyIn(root)).report.exitCode).toBe(0);
    await writeSampleBundle(`${root}/home/core/assets`, { networking: "flannel" });
    const planned = await applyIn(root, { dryRun: true });
    const { report } = await applyIn(root);
    expect(report.exitCode, report.error).toBe(0);
    for (const run of [planned.report, report]) {
      const paths = run.actions.map((action) => action.path);
      expect(paths.filter((file) => file.startsWith("/var/opt"))).toEqual([]);
      expect(paths).toContain("/opt/bootstrap/assets/manifests/network/deployment.yaml");
    }
    expect(planned.report.actions.map((action) => `${action.action} ${action.path}`)).toEqual(report.actions.map((action) => `${action.action} ${action.path}`));
    const tar = await execa("tar", ["-tf", path.join(root, report.backup!)]);
    expect(tar.stdout.split("\n").filter((name) => name.startsWith("var/opt"))).toEqual([]);
    expect(tar.stdout).toContain("opt/bootstrap/assets/manifests/network/deployment.yaml");
    const undo = await runRollback(new HostRoot(root), new EventRecorder(), { lockWaitSeconds: 1, settleKubelet: false });
    expect([...undo.restored, ...undo.removed].filter((file) => file.startsWith("/var/opt"))).toEqual([]);
    expect(undo.restored).toContain("/opt/bootstrap/assets/manifests/network/deployment.yaml");
    expect(fs.readFileSync(`${root}/var/opt/bootstrap/assets/manifests/network/deployment.yaml`, "utf8")).toContain("cilium");
  });

  rootTest("a legacy leftover below a linked /opt is reported as /opt/...", async () => {
    const root = makeHost();
    fs.mkdirSync(`${root}/var/opt/bootstrap`, { recursive: true });
    fs.symlinkSync("var/opt", `${root}/opt`);
    fs.writeFileSync(`${root}/var/opt/bootstrap/bootkube-start`, "old\n");
    await writeSampleBundle(`${root}/home/core/assets`);
    const { report, recorder } = await applyIn(root);
    expect(report.exitCode, report.error).toBe(0);
    expect(report.actions.filter((action) => action.action === "remove").map((action) => action.path)).toEqual(["/opt/bootstrap/bootkube-start"]);
    expect(recorder.named("legacyMigrated").map((entry) => entry.fields.TYPHOON_PATH)).toEqual(["/opt/bootstrap/bootkube-start"]);
    expect(fs.existsSync(`${root}/var/opt/bootstrap/bootkube-start`)).toBe(false);
  });
});

describe("migrations and removals", () => {
  rootTest("legacy bootkube and pod-checkpointer leftovers move into the backup and go", async () => {
    const root = makeHost();
    const legacy = ["etc/kubernetes/bootstrap-secrets/kubeconfig", "etc/kubernetes/manifests/pod-checkpointer.yaml", "opt/bootstrap/bootkube-start"];
    for (const file of legacy) {
      fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
      fs.writeFileSync(path.join(root, file), "old\n");
    }
    await writeSampleBundle(`${root}/home/core/assets`);
    const { report, recorder } = await applyIn(root);
    expect(report.exitCode, report.error).toBe(0);
    for (const file of legacy) expect(fs.existsSync(path.join(root, file)), file).toBe(false);
    expect(recorder.named("legacyMigrated").map((entry) => entry.fields.TYPHOON_PATH).sort()).toEqual(
      ["/etc/kubernetes/bootstrap-secrets", "/etc/kubernetes/manifests/pod-checkpointer.yaml", "/opt/bootstrap/bootkube-start"].sort(),
    );
    const tar = await execa("tar", ["-tf", path.join(root, report.backup!)]);
    for (const file of legacy) expect(tar.stdout).toContain(file);
  });

  rootTest("temp and undo files no record accounts for (a run that died before its record was durable) are removed", async () => {
    const root = makeHost();
    await writeSampleBundle(`${root}/home/core/assets`);
    expect((await applyIn(root)).report.exitCode).toBe(0);
    const strays = ["etc/kubernetes/pki/.typhoon-agent.20260101T000000000Z.3.tmp", "etc/kubernetes/manifests/.typhoon-agent.20260101T000000000Z.7.orig"];
    for (const stray of strays) fs.writeFileSync(path.join(root, stray), "a key half-written by a dead run", { mode: 0o600 });
    const keep = "etc/kubernetes/pki/.typhoon-agent-notes";
    fs.writeFileSync(path.join(root, keep), "not the agent's name scheme\n");
    expect((await applyIn(root)).report.exitCode).toBe(0);
    for (const stray of strays) expect(fs.existsSync(path.join(root, stray)), stray).toBe(false);
    expect(fs.existsSync(path.join(root, keep)), "only the agent's own names go").toBe(true);
  });

  // The record names what the agent put inside its managed directories, nothing more: a path
  // outside them is never removed, and one climbing out of them makes the record damaged.
  const foreign: Array<[string, string[]]> = [
    ["outside the managed directories", ["/etc/hostname", "/home/core/assets"]],
    ["climbing out of them", ["/etc/kubernetes/pki/../../hostname"]],
  ];
  for (const [title, extra] of foreign) {
    rootTest(`an install record naming files ${title} removes nothing there`, async () => {
      const root = makeHost();
      await writeSampleBundle(`${root}/home/core/assets`);
      expect((await applyIn(root)).report.exitCode).toBe(0);
      const record = JSON.parse(fs.readFileSync(`${root}/var/lib/typhoon-agent/installed.json`, "utf8")) as { files: string[] };
      fs.writeFileSync(`${root}/etc/hostname`, "node1\n");
      record.files.push(...extra);
      fs.writeFileSync(`${root}/var/lib/typhoon-agent/installed.json`, JSON.stringify(record));
      const { report } = await applyIn(root);
      expect(report.exitCode, report.error).toBe(0);
      expect(report.actions.filter((action) => action.action === "remove")).toEqual([]);
      expect(fs.existsSync(`${root}/etc/hostname`)).toBe(true);
      expect(fs.existsSync(`${root}/home/core/assets`)).toBe(true);
    });
  }

  rootTest("files of an earlier bundle that the new one lacks are removed (flannel to cilium)", async () => {
    const root = makeHost();
    await writeSampleBundle(`${root}/home/core/assets`, { networking: "flannel" });
    await applyIn(root);
    const flannelOnly = `${root}/opt/bootstrap/assets/manifests/network/daemonset.yaml`;
    expect(fs.readFileSync(flannelOnly, "utf8")).toContain("flannel");
    await writeSampleBundle(`${root}/home/core/assets`, { networking: "cilium" });
    const { report, recorder } = await applyIn(root);
    expect(report.exitCode, report.error).toBe(0);
    expect(fs.readFileSync(flannelOnly, "utf8")).toContain("cilium");
    expect(recorder.named("assetRemoved").length).toBe(0); // same names, new content
    await writeSampleBundle(`${root}/home/core/assets`, { networking: "flannel" });
    const back = await applyIn(root);
    expect(back.recorder.named("assetRemoved").map((entry) => entry.fields.TYPHOON_PATH)).toEqual(["/opt/bootstrap/assets/manifests/network/deployment.yaml"]);
    expect(fs.existsSync(`${root}/opt/bootstrap/assets/manifests/network/deployment.yaml`)).toBe(false);
  });
});

describe("bundle, rollback and lock", () => {
  rootTest("the consumed bundle is removed unless --keep-bundle", async () => {
    const root = makeHost();
    await writeSampleBundle(`${root}/home/core/assets`);
    await applyIn(root, { keepBundle: true });
    expect(fs.existsSync(`${root}/home/core/assets`)).toBe(true);
    await applyIn(root, { keepBundle: false });
    expect(fs.existsSync(`${root}/home/core/assets`)).toBe(false);
  });

  rootTest("a backup a killed apply left half-written is removed by the next apply", async () => {
    const root = makeHost();
    await writeSampleBundle(`${root}/home/core/assets`);
    expect((await applyIn(root)).report.exitCode).toBe(0);
    const leftover = path.join(root, "var/lib/typhoon-agent/backups/20260101T000000000Z.tar.tmp");
    fs.writeFileSync(leftover, "a tar cut short, full of keys", { mode: 0o600 });
    await writeSampleBundle(`${root}/home/core/assets`, { freshPki: true });
    expect((await applyIn(root)).report.exitCode).toBe(0);
    expect(fs.existsSync(leftover)).toBe(false);
    expect(backups(root)).toHaveLength(2);
  });

  rootTest("rollback restores the previous tree exactly, then the one before", async () => {
    const root = makeHost();
    fs.mkdirSync(`${root}/etc/kubernetes/bootstrap-secrets`, { recursive: true });
    fs.writeFileSync(`${root}/etc/kubernetes/bootstrap-secrets/kubeconfig`, "legacy\n", { mode: 0o640 });
    const pristine = snapshotTree(root);
    await writeSampleBundle(`${root}/home/core/assets`);
    await applyIn(root);
    const first = snapshotTree(path.join(root, "etc"));
    const firstAssets = snapshotTree(path.join(root, "opt"));
    const mtimes = (): Map<string, number> => new Map([...first.keys()].map((name) => [name, Math.floor(fs.lstatSync(path.join(root, "etc", name)).mtimeMs)]));
    const firstMtimes = mtimes();
    await writeSampleBundle(`${root}/home/core/assets`, { freshPki: true });
    await applyIn(root);
    expect(snapshotTree(path.join(root, "etc"))).not.toEqual(first);

    const recorder = new EventRecorder();
    const undo = await runRollback(new HostRoot(root), recorder, { lockWaitSeconds: 1, settleKubelet: false });
    expect(undo.restored.length).toBeGreaterThan(20);
    expect(snapshotTree(path.join(root, "etc"))).toEqual(first);
    expect(snapshotTree(path.join(root, "opt"))).toEqual(firstAssets);
    // Files come back with their mtimes to the millisecond (a tar header alone keeps seconds).
    const restoredFiles = undo.restored.filter((file) => file.startsWith("/etc/") && first.get(file.slice(5))?.type === "file");
    expect(restoredFiles.length).toBeGreaterThan(20);
    const now = mtimes();
    for (const file of restoredFiles) expect({ file, mtime: now.get(file.slice(5)) }).toEqual({ file, mtime: firstMtimes.get(file.slice(5)) });
    expect(recorder.named("rolledBack").length).toBe(1);

    await runRollback(new HostRoot(root), recorder, { lockWaitSeconds: 1, settleKubelet: false });
    const back = snapshotTree(root);
    for (const name of back.keys()) if (name.startsWith("var")) back.delete(name);
    for (const name of pristine.keys()) if (name.startsWith("var")) pristine.delete(name);
    back.delete("home/core/assets");
    expect(back).toEqual(pristine);
    await expect(runRollback(new HostRoot(root), recorder, { lockWaitSeconds: 1, settleKubelet: false })).rejects.toThrow(/no backup/);
  });

  rootTest("an upload still writing the bundle: apply waits for it to close, then installs all of it", async () => {
    const root = makeHost();
    const bundle = terraformBundle(assets).toString("utf8");
    const cut = bundle.indexOf("\n##### tls/k8s/") + 1; // what a slow scp has written so far
    fs.writeFileSync(`${root}/home/core/assets`, bundle.slice(0, cut));
    fs.writeFileSync(`${root}/rest`, bundle.slice(cut));
    // The "upload": holds the bundle open for writing, then writes the rest and closes it.
    const upload = execa("bash", ["-c", 'exec 3>>"$0"; echo open > "$1.open"; sleep 1; cat "$1" >&3', `${root}/home/core/assets`, `${root}/rest`]);
    while (!fs.existsSync(`${root}/rest.open`)) await new Promise((resolve) => setTimeout(resolve, 20));
    const { report } = await applyIn(root, { lockWaitSeconds: 10 });
    await upload;
    expect(report.exitCode, report.error).toBe(0);
    expect(report.warnings.join("\n")).toMatch(/waited \d{3,} ms for bash \(pid \d+\)(, sleep \(pid \d+\))? to finish writing the bundle/);
    expect(fs.existsSync(`${root}/etc/kubernetes/pki/apiserver.key`)).toBe(true);
  });

  rootTest("an upload that does not finish: exit 75 naming the writer, nothing installed", async () => {
    const root = makeHost();
    await writeSampleBundle(`${root}/home/core/assets`);
    const upload = execa("bash", ["-c", 'exec 3>>"$0"; echo open > "$0.open"; sleep 3', `${root}/home/core/assets`]);
    while (!fs.existsSync(`${root}/home/core/assets.open`)) await new Promise((resolve) => setTimeout(resolve, 20));
    const { report } = await applyIn(root, { lockWaitSeconds: 0.5 });
    upload.kill();
    await upload.catch(() => undefined);
    expect(report.exitCode).toBe(75);
    expect(report.error).toMatch(/still open for writing by (bash|sleep) \(pid \d+\)(, \w+ \(pid \d+\))? after 0.5 s/);
    expect(fs.existsSync(`${root}/etc/kubernetes`)).toBe(false);
  });

  rootTest("a second apply waits for the lock, then gives up with exit 75", async () => {
    const root = makeHost();
    await writeSampleBundle(`${root}/home/core/assets`);
    await applyIn(root);
    const holder = execa("flock", ["--exclusive", `${root}/var/lib/typhoon-agent/lock`, "sleep", "3"], { stdio: "ignore" });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const started = performance.now();
    const { report } = await applyIn(root, { lockWaitSeconds: 1 });
    holder.kill();
    await holder.catch(() => undefined);
    expect(report.exitCode).toBe(75);
    expect(report.error).toMatch(/another typhoon-agent apply holds/);
    expect(performance.now() - started).toBeGreaterThan(900);
  });
});
