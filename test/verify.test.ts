// `typhoon-agent verify` on a controller the compiled agent installed, then with one fault
// planted at a time: each is found, named by path, and sets the exit code; warnings alone
// do not. PKI for the planted certificates is made here, signed by the installed CAs.

import { X509Certificate, createPublicKey } from "node:crypto";
import { execSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { load, dump } from "js-yaml";
import { beforeAll, describe, expect, test } from "vitest";
import { EVENTS } from "../agent/report/events.ts";
import { CERTIFICATE_LIST, installedCertificates } from "../agent/verify/certificates.ts";
import type { VerifyResult } from "../agent/verify/findings.ts";
import { issue, newKeyPair, type IssuedCert, type KeyPair } from "../scripts/pki.ts";
import { AGENT, runAgent } from "./helpers/agent-binary.ts";
import { copyOfTree, installedController, makeHost } from "./helpers/host.ts";
import { journaldUnavailable, withJournald } from "./helpers/journald.ts";
import { tempDir } from "./helpers/tree.ts";

const isRoot = process.getuid?.() === 0;
if (!isRoot) console.log("verify tests skipped: the installed tree is owned by etcd and nobody, which needs root");
const rootTest = isRoot ? test : test.skip;
const QUIET = { env: { TYPHOON_AGENT_JOURNAL: "stderr" } };
const PKI = "etc/kubernetes/pki";

let installed: string;

beforeAll(async () => {
  if (isRoot) installed = await installedController();
}, 30_000);

/** A copy of the installed controller to plant one fault in. */
function node(): string {
  return copyOfTree(installed, "typhoon-verify-");
}

async function verify(root: string, ...flags: string[]): Promise<{ exitCode: number; report: VerifyResult; stderr: string }> {
  const result = await runAgent(["verify", "--root", root, "--json", ...flags], QUIET);
  return { exitCode: result.exitCode ?? -1, report: JSON.parse(result.stdout as string) as VerifyResult, stderr: result.stderr as string };
}

const findingsAt = (report: VerifyResult, file: string): string[] => report.findings.filter((finding) => finding.path === file).map((finding) => `${finding.severity} ${finding.check}`);

function installedCa(root: string, name: "ca" | "aggregation-ca"): IssuedCert {
  const key = fs.readFileSync(`${root}/${PKI}/${name}.key`.replace("aggregation-ca.key", "ca.key"), "utf8");
  return { cert: fs.readFileSync(`${root}/${PKI}/${name}.crt`, "utf8"), key, publicKey: createPublicKey(key).export({ type: "spki", format: "pem" }).toString() };
}

function installedKeyPair(file: string): KeyPair {
  const key = fs.readFileSync(file, "utf8");
  return { key, publicKey: createPublicKey(key).export({ type: "spki", format: "pem" }).toString() };
}

/** Replaces apiserver.crt, keeping its owner and mode, with a certificate for the same key. */
async function replaceApiserverCertificate(root: string, validity: { days?: number; startDays?: number }, issuer = installedCa(root, "ca")): Promise<void> {
  const issued = await issue({ subject: "/CN=kube-apiserver", usage: "server", ...validity }, installedKeyPair(`${root}/${PKI}/apiserver.key`), issuer);
  fs.writeFileSync(`${root}/${PKI}/apiserver.crt`, issued.cert);
}

describe("verify on an installed controller", () => {
  rootTest("a clean tree: every certificate listed with its expiry, no finding, exit 0", async () => {
    const { exitCode, report } = await verify(node());
    expect(report.findings).toEqual([]);
    expect(exitCode).toBe(0);
    expect(report.certificates.map((row) => row.name)).toEqual([
      "ca", "apiserver", "aggregation-ca", "aggregation-client", "etcd-client-ca", "etcd-client",
      "etcd-server-ca", "etcd-server", "etcd-peer-ca", "etcd-peer",
      "admin.conf client", "controller-manager.conf client", "scheduler.conf client",
    ]);
    const apiserver = report.certificates.find((row) => row.name === "apiserver")!;
    expect(apiserver).toMatchObject({ path: "/etc/kubernetes/pki/apiserver.crt", ca: "ca", status: "ok" });
    expect(apiserver.sans).toContain("IP:10.3.0.1");
    expect(apiserver.daysLeft).toBeGreaterThanOrEqual(363);
    expect(report.files).toBeGreaterThan(40);
  });

  rootTest("the table a person reads: one row per certificate, then a summary", async () => {
    const result = await runAgent(["verify", "--root", node()], QUIET);
    expect(result.exitCode).toBe(0);
    const lines = (result.stdout as string).trimEnd().split("\n");
    expect(lines[0]).toMatch(/^CERTIFICATE\s+EXPIRES\s+RESIDUAL TIME\s+CA\s+STATUS\s+SUBJECT; SANS$/);
    expect(lines.find((line) => line.startsWith("etcd-server "))).toMatch(/\d{4}-\d\d-\d\d \d\d:\d\d UTC\s+36\dd\s+etcd-server-ca\s+ok\s+CN=etcd-server, O=etcd; DNS:/);
    expect(lines.at(-1)).toMatch(/^verify: \d+ installed files, 13 certificates: 0 errors, 0 warnings$/);
  });

  // The last element: findings expected at other paths (a certificate whose key cannot be checked), none when absent.
  const drift: Array<[string, (root: string) => void | Promise<void>, string, string[], Record<string, string[]>?]> = [
    ["mode drift on a key", (root) => fs.chmodSync(`${root}/${PKI}/apiserver.key`, 0o644), "/etc/kubernetes/pki/apiserver.key", ["error mode"]],
    ["owner drift on an etcd key", (root) => fs.chownSync(`${root}/etc/ssl/etcd/etcd/server.key`, 0, 0), "/etc/ssl/etcd/etcd/server.key", ["error owner"]],
    ["a managed directory opened up", (root) => fs.chmodSync(`${root}/etc/ssl/etcd/etcd`, 0o755), "/etc/ssl/etcd/etcd", ["error mode"]],
    ["a missing file", (root) => fs.rmSync(`${root}/${PKI}/scheduler.conf`), "/etc/kubernetes/pki/scheduler.conf", ["error missing"]],
    ["a symlink where a key was", (root) => {
      fs.rmSync(`${root}/${PKI}/ca.key`);
      fs.symlinkSync("/etc/shadow", `${root}/${PKI}/ca.key`);
    }, "/etc/kubernetes/pki/ca.key", ["error symlink"], { "/etc/kubernetes/pki/ca.crt": ["error key"] }],
    ["a certificate that does not match its key", (root) => {
      fs.copyFileSync(`${root}/${PKI}/aggregation-client.key`, `${root}/${PKI}/apiserver.key`);
    }, "/etc/kubernetes/pki/apiserver.crt", ["error key"]],
    ["a certificate from another CA", async (root) => {
      const foreign = await issue({ subject: "/CN=another-ca", usage: "ca" }, await newKeyPair());
      await replaceApiserverCertificate(root, {}, foreign);
    }, "/etc/kubernetes/pki/apiserver.crt", ["error chain"]],
    ["an expired certificate", (root) => replaceApiserverCertificate(root, { startDays: -30, days: -2 }), "/etc/kubernetes/pki/apiserver.crt", ["error validity"]],
    ["a certificate not valid yet", (root) => replaceApiserverCertificate(root, { startDays: 3, days: 300 }), "/etc/kubernetes/pki/apiserver.crt", ["error validity"]],
    ["a kubeconfig that trusts a foreign CA", async (root) => {
      const foreign = await issue({ subject: "/CN=another-ca", usage: "ca" }, await newKeyPair());
      const file = `${root}/${PKI}/admin.conf`;
      const kubeconfig = load(fs.readFileSync(file, "utf8")) as { clusters: Array<{ cluster: Record<string, string> }> };
      kubeconfig.clusters[0]!.cluster["certificate-authority-data"] = Buffer.from(foreign.cert).toString("base64");
      fs.writeFileSync(file, dump(kubeconfig));
    }, "/etc/kubernetes/pki/admin.conf", ["error ca"]],
    // kube-controller-manager mounts the whole pki directory, so what it names there is a host file
    ["a static pod that reads a file that is not there", (root) => {
      const file = `${root}/etc/kubernetes/manifests/kube-controller-manager.yaml`;
      fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace("--kubeconfig=", "--authentication-kubeconfig=/etc/kubernetes/pki/gone.conf\n    - --kubeconfig="));
    }, "/etc/kubernetes/pki/gone.conf", ["error reference"]],
    ["a static pod that no longer parses (its readers unknown: no owner noise)", (root) => {
      fs.appendFileSync(`${root}/etc/kubernetes/manifests/kube-scheduler.yaml`, "spec: [unclosed\n");
    }, "/etc/kubernetes/manifests", ["error parse"]],
    ["service-account.pub from another key", async (root) => {
      fs.writeFileSync(`${root}/${PKI}/service-account.pub`, (await newKeyPair()).publicKey);
    }, "/etc/kubernetes/pki/service-account.pub", ["error key"]],
  ];
  for (const [title, plant, file, expected, elsewhere = {}] of drift) {
    rootTest(`${title}: exit 1, named`, async () => {
      const root = node();
      await plant(root);
      const { exitCode, report, stderr } = await verify(root);
      expect(findingsAt(report, file), JSON.stringify(report.findings, null, 1)).toEqual(expected);
      const others = report.findings.filter((finding) => finding.path !== file);
      expect(Object.fromEntries([...new Set(others.map((finding) => finding.path))].map((other) => [other, findingsAt(report, other)])), "nothing else is reported").toEqual(elsewhere);
      expect(exitCode).toBe(1);
      expect(stderr).toContain(`<3>${file} `);
    });
  }

  rootTest("a certificate expiring in 30 days is a warning with the days left, exit 0", async () => {
    const root = node();
    await replaceApiserverCertificate(root, { days: 30 });
    const { exitCode, report, stderr } = await verify(root);
    expect(exitCode).toBe(0);
    expect(findingsAt(report, "/etc/kubernetes/pki/apiserver.crt")).toEqual(["warning validity"]);
    const row = report.certificates.find((candidate) => candidate.name === "apiserver")!;
    expect(row.status).toBe("expiring");
    expect(row.daysLeft).toBe(29); // 30 days from issue, less the seconds since
    expect(stderr).toMatch(new RegExp(`^<4>/etc/kubernetes/pki/apiserver.crt apiserver expires on \\S+, in 29 days .*cert=apiserver.*not_after=${row.notAfter.replace(/[.]/g, "\\.")}.*days_left=29`, "m"));
    const quieter = await verify(root, "--warn-days", "20");
    expect(quieter.report.findings).toEqual([]);
  });

  // "Expiring within --warn-days (90) days": fewer than 90 whole days left, under default flags.
  const HOUR = 1 / 24;
  const edges: Array<[string, number, number, string[]]> = [
    ["31 days and an hour left: a warning", 31 + HOUR, 31, ["warning validity"]],
    ["89 days and 23 hours left: a warning", 90 - HOUR, 89, ["warning validity"]],
    ["90 days and an hour left: no warning", 90 + HOUR, 90, []],
  ];
  for (const [title, days, daysLeft, expected] of edges) {
    rootTest(`the default --warn-days is 90: ${title}`, async () => {
      const root = node();
      await replaceApiserverCertificate(root, { startDays: -1, days });
      const { exitCode, report } = await verify(root);
      expect(exitCode).toBe(0);
      expect(findingsAt(report, "/etc/kubernetes/pki/apiserver.crt")).toEqual(expected);
      expect(report.certificates.find((row) => row.name === "apiserver")).toMatchObject({ daysLeft, status: expected.length === 0 ? "ok" : "expiring" });
    });
  }

  rootTest("kubelet.service edited by hand is a warning: drift from the configuration", async () => {
    const root = node();
    fs.appendFileSync(`${root}/etc/systemd/system/kubelet.service`, "# local edit\n");
    const { exitCode, report } = await verify(root);
    expect(exitCode).toBe(0);
    expect(findingsAt(report, "/etc/systemd/system/kubelet.service")).toEqual(["warning content"]);
  });

  rootTest("a broken agent.yaml is one error, and every other check still runs", async () => {
    const root = node();
    await replaceApiserverCertificate(root, { startDays: -30, days: -2 });
    fs.mkdirSync(`${root}/etc/typhoon`, { recursive: true });
    fs.writeFileSync(`${root}/etc/typhoon/agent.yaml`, "k8s_dns_service_ip: 10.3.0.10\n");
    fs.chmodSync(`${root}/etc/kubernetes/kubelet.yaml`, 0o666);
    const { exitCode, report, stderr } = await verify(root);
    expect(exitCode).toBe(1);
    expect(findingsAt(report, "/etc/typhoon/agent.yaml")).toEqual(["error config"]);
    expect(report.findings.find((finding) => finding.check === "config")!.message).toContain("renamed to cluster_dns_service_ip");
    expect(findingsAt(report, "/etc/kubernetes/pki/apiserver.crt")).toEqual(["error validity"]);
    // Owner and mode of the rendered files are still checked; their content cannot be.
    expect(findingsAt(report, "/etc/kubernetes/kubelet.yaml")).toEqual(["error mode"]);
    expect(report.certificates).toHaveLength(13);
    expect(stderr).toMatch(/^<3>\/etc\/typhoon\/agent\.yaml k8s_dns_service_ip: .* check=config/m);
  });

  // Every way agent.yaml can fail to load is one config finding, never the end of the check.
  // (Unreadable, EACCES, cannot be made: verify runs as root only, and root reads a 0000 file.)
  const UNLOADABLE_CONFIGS: ReadonlyArray<{ form: string; plant: (file: string, outside: string) => void; says: RegExp }> = [
    { form: "a directory", plant: (file) => fs.mkdirSync(file), says: /not a regular file/ },
    { form: "a FIFO", plant: (file) => execSync(`mkfifo ${file}`), says: /not a regular file/ },
    { form: "a symlink out of the root", plant: (file, outside) => fs.symlinkSync(outside, file), says: /link/ },
    { form: "a dangling symlink", plant: (file) => fs.symlinkSync("/nowhere/agent.yaml", file), says: /link/ },
    { form: "not UTF-8", plant: (file) => fs.writeFileSync(file, Buffer.from("role: controller\n# caf\xe9\n", "latin1")), says: /not UTF-8/ },
    { form: "broken YAML", plant: (file) => fs.writeFileSync(file, "role: [controller\n"), says: /cannot parse/ },
  ];
  for (const { form, plant, says } of UNLOADABLE_CONFIGS) {
    rootTest(`agent.yaml ${form}: one config error, and every other check still runs`, async () => {
      const root = node();
      const outside = path.join(tempDir("typhoon-outside-"), "agent.yaml");
      fs.writeFileSync(outside, "role: controller\n");
      fs.mkdirSync(`${root}/etc/typhoon`, { recursive: true });
      plant(`${root}/etc/typhoon/agent.yaml`, outside);
      fs.chmodSync(`${root}/etc/kubernetes/kubelet.yaml`, 0o666);
      const { exitCode, report } = await verify(root);
      expect(exitCode).toBe(1);
      expect(findingsAt(report, "/etc/typhoon/agent.yaml")).toEqual(["error config"]);
      expect(report.findings.find((finding) => finding.check === "config")!.message).toMatch(says);
      expect(findingsAt(report, "/etc/kubernetes/kubelet.yaml")).toEqual(["error mode"]);
      expect(report.certificates).toHaveLength(13);
    });
  }

  rootTest("a user other than root: exit 77 before reading anything", async () => {
    const result = await runAgent(["verify", "--root", node()], { ...QUIET, uid: 65534, gid: 65534 });
    expect(result.exitCode).toBe(77);
    expect(result.stderr).toContain("run it as root");
  });

  rootTest("nothing installed: exit 66 naming the install record", async () => {
    const result = await runAgent(["verify", "--root", makeHost()], QUIET);
    expect(result.exitCode).toBe(66);
    expect(result.stderr).toContain("/var/lib/typhoon-agent/installed.json is missing");
    expect(result.stderr).toContain("run apply first");
  });

  rootTest("a worker: the kubelet files only, no certificates", async () => {
    const root = makeHost();
    expect((await runAgent(["apply", "--role", "worker", "--root", root], QUIET)).exitCode).toBe(0);
    const { exitCode, report } = await verify(root, "--role", "worker");
    expect(exitCode).toBe(0);
    expect(report.certificates).toEqual([]);
    expect(report.files).toBe(2); // kubelet.service and kubelet.yaml
  });
});

const journalUnavailable = !isRoot ? "needs root" : journaldUnavailable();
if (journalUnavailable !== undefined) console.log(`verify journal test skipped: ${journalUnavailable}`);
const journalTest = journalUnavailable === undefined ? test : test.skip;

describe("the certificate list", () => {
  test("names bundle assets; where they are installed comes from the placement table, each CA by its entry", () => {
    const byName = new Map(CERTIFICATE_LIST.certificates.map((certificate) => [certificate.name, certificate]));
    expect(byName.get("apiserver")).toEqual({ name: "apiserver", path: "/etc/kubernetes/pki/apiserver.crt", keyPath: "/etc/kubernetes/pki/apiserver.key", ca: { name: "ca", path: "/etc/kubernetes/pki/ca.crt" } });
    expect(byName.get("etcd-peer")?.ca).toEqual({ name: "etcd-peer-ca", path: "/etc/ssl/etcd/etcd/peer-ca.crt" });
    expect(CERTIFICATE_LIST.kubeconfigs.map((kubeconfig) => kubeconfig.path)).toContain("/etc/kubernetes/pki/scheduler.conf");
  });

  test("is checked as a whole: an unplaced asset, a name twice, a CA that is no CA entry are all named", () => {
    const build = (): unknown =>
      installedCertificates(
        [
          { name: "ca", certificate: "tls/k8s/ca.crt" },
          { name: "leaf", certificate: "tls/k8s/leaf.crt", ca: "missing-ca" },
          { name: "leaf", certificate: "elsewhere/leaf.crt", ca: "leaf" },
        ],
        [],
        [{ name: "admin.conf", asset: "auth/admin.conf", ca: "ca" }],
      );
    expect(build).toThrow(/elsewhere\/leaf.crt has no place in the placement table/);
    expect(build).toThrow(/leaf is listed twice/);
    expect(build).toThrow(/leaf names missing-ca as its CA, which is not a CA of this list/);
    expect(build).toThrow(/leaf names leaf as its CA/);
  });
});

describe("verify in the journal", () => {
  journalTest("expiring, expired and drifted: the certificate-expiring and check-failed entries with their fields", async () => {
    const root = node();
    await replaceApiserverCertificate(root, { days: 10 });
    // controller-manager.conf's client certificate, re-issued for its key by the cluster CA, expired.
    const file = `${root}/${PKI}/controller-manager.conf`;
    const kubeconfig = load(fs.readFileSync(file, "utf8")) as { users: Array<{ user: Record<string, string> }> };
    const user = kubeconfig.users[0]!.user;
    const clientKey = Buffer.from(user["client-key-data"]!, "base64").toString("utf8");
    const expired = await issue(
      { subject: "/CN=system:kube-controller-manager", usage: "client", startDays: -20, days: -1 },
      { key: clientKey, publicKey: createPublicKey(clientKey).export({ type: "spki", format: "pem" }).toString() },
      installedCa(root, "ca"),
    );
    user["client-certificate-data"] = Buffer.from(expired.cert).toString("base64");
    fs.writeFileSync(file, dump(kubeconfig));
    fs.chmodSync(`${root}/${PKI}/ca.key`, 0o640);

    const run = await withJournald([[AGENT, "verify", "--root", root]]);
    expect(run.results[0]!.exitCode).toBe(1);
    const certificates = run.entries.filter((entry) => entry.MESSAGE_ID === EVENTS.certificateExpiring.messageId);
    const apiserverNotAfter = new X509Certificate(fs.readFileSync(`${root}/${PKI}/apiserver.crt`)).validToDate.toISOString();
    expect(certificates.find((entry) => entry.TYPHOON_CERT === "apiserver")).toMatchObject({
      PRIORITY: "4",
      SYSLOG_IDENTIFIER: "typhoon-agent",
      TYPHOON_PATH: "/etc/kubernetes/pki/apiserver.crt",
      TYPHOON_NOT_AFTER: apiserverNotAfter,
      TYPHOON_DAYS_LEFT: "9",
    });
    expect(certificates.find((entry) => entry.TYPHOON_CERT === "controller-manager.conf client")).toMatchObject({
      PRIORITY: "3",
      TYPHOON_PATH: "/etc/kubernetes/pki/controller-manager.conf",
      TYPHOON_DAYS_LEFT: "-1",
    });
    expect(certificates.length).toBe(2);
    const checks = run.entries.filter((entry) => entry.MESSAGE_ID === EVENTS.checkFailed.messageId);
    expect(checks.map((entry) => [entry.TYPHOON_PATH, entry.TYPHOON_CHECK, entry.PRIORITY])).toEqual([["/etc/kubernetes/pki/ca.key", "mode", "3"]]);
    const done = run.entries.filter((entry) => entry.MESSAGE_ID === EVENTS.verifyDone.messageId);
    expect(done.map((entry) => [entry.PRIORITY, entry.TYPHOON_EXIT_CODE, entry.TYPHOON_CERT, entry.TYPHOON_DAYS_LEFT])).toEqual([["6", "1", "controller-manager.conf client", "-1"]]);
    // verify reads keys; not one byte of them reaches the journal.
    const keyLine = fs.readFileSync(`${root}/${PKI}/ca.key`, "utf8").split("\n")[1]!;
    expect(run.exported.toString("latin1")).not.toContain(keyLine);
  }, 60_000);
});
